package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever an administrator writes is loaded or refused with
// problems, never a panic. The seeds are every configuration the project
// ships or tests with, so that mutations start from real files and reach
// deep into validation.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "demo.yaml", "../deploy/viza.example.yaml", "../cmd/viza/testdata/telegram.yaml", "../bot/chat/chattest/config.yaml")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatalf("seed %s: %v", p, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("viza.yaml", data)
		if err == nil {
			if _, derr := c.Directory(); derr != nil {
				t.Fatalf("a configuration that parsed builds no directory: %v", derr)
			}
		}
	})
}
