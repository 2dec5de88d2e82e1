package config

import (
	"os"
	"testing"
)

func TestSealMistakes(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra string
		want  []string
	}{
		{"nothing to seal with", "seal:\n  tsa_url: ftp://tsa\n", []string{"seal: give certificate and key", "seal.tsa_url: want an http(s) address"}},
		{"a key without its certificate", "seal:\n  key: seal.key\n", []string{"seal: certificate and key go together"}},
		{"both kinds", "seal:\n  certificate: a.crt\n  key: a.key\n  pkcs12: a.p12\n  password_env: P\n", []string{"seal: give certificate and key, or pkcs12, not both"}},
		{"pkcs12 without its password", "seal:\n  pkcs12: a.p12\n", []string{"seal.password_env: is required with pkcs12"}},
		{"a demo with a certificate", "seal:\n  demo: true\n  pkcs12: a.p12\n  password_env: P\n", []string{"seal.demo: a demo seal takes no certificate"}},
		{"a timeout of an hour", "seal:\n  demo: true\n  tsa_timeout: 1h\n", []string{`seal.tsa_timeout: "1h"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantProblems(t, string(base)+tc.extra, tc.want) })
	}
	c, err := Parse("viza.yaml", append(base, []byte("seal:\n  pkcs12: /etc/viza/seal.p12\n  password_env: VIZA_SEAL_PASSWORD\n  tsa_url: http://tsa.example/tsp\n")...))
	if err != nil {
		t.Fatal(err)
	}
	if c.Seal == nil || c.Seal.TSATimeout != "10s" || c.Seal.Line == 0 {
		t.Fatalf("seal %+v", c.Seal)
	}
}
