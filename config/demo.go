package config

import _ "embed"

//go:embed demo.yaml
var demoYAML []byte

// Demo returns the embedded demo company, which needs no file and no
// tokens.
func Demo() (*Config, error) { return Parse("demo.yaml (embedded)", demoYAML) }
