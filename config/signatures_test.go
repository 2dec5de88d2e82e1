package config

import (
	"os"
	"strings"
	"testing"
)

// TestDSSConfig: a stage signed in DSS needs signatures.dss, and
// signatures.dss an address and one way to get a signer's token.
func TestDSSConfig(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const sign = "        kind: sign            # approve (default) | acknowledge | sign\n"
	src := strings.Replace(string(base), sign, sign+"        method: dss\n", 1)
	if src == string(base) {
		t.Fatal("fixture has no sign stage")
	}
	dssBlock := func(lines ...string) string {
		return src + "signatures:\n  dss:\n" + strings.Join(lines, "\n") + "\n"
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"valid with a token", dssBlock("    url: https://dss.example/SignServer/rest/api", "    token_env: DSS_TOKEN"), ""},
		{"valid with a command", dssBlock("    url: https://dss.example/SignServer/rest/api", "    token_command: [dss-token, \"{user}\"]",
			"    users: {director: orlov}", "    poll_every: 10s", "    confirm_within: 30m"), ""},
		{"valid with the identity service", dssBlock("    url: https://dss.example/SignServer/rest/api", "    oauth:",
			"      url: https://dss.example/STS/oauth", "      client_id: viza", "      username: orlov", "      password_env: DSS_PASSWORD"), ""},
		{"identity service half given", dssBlock("    url: https://dss.example/SignServer/rest/api", "    oauth:",
			"      url: https://dss.example/STS/oauth", "      client_id: viza"), "give client_id, username and password_env"},
		{"no dss at all", src, "dss needs КриптоПро DSS"},
		{"bad address", dssBlock("    url: dss.example", "    token_env: DSS_TOKEN"), "want an http(s) address"},
		{"no token", dssBlock("    url: https://dss.example/SignServer/rest/api"), "give oauth (one signer's account)"},
		{"two tokens", dssBlock("    url: https://dss.example/SignServer/rest/api", "    token_env: T", "    token_command: [x, \"{user}\"]"), "give one of oauth"},
		{"command without the signer", dssBlock("    url: https://dss.example/SignServer/rest/api", "    token_command: [dss-token]"), "name the signer with {user}"},
		{"bad poll", dssBlock("    url: https://dss.example/SignServer/rest/api", "    token_env: T", "    poll_every: 5ms"), "from 1s to 24h"},
		{"unknown method", strings.Replace(src, "method: dss", "method: cloud", 1), `want scan, upload or dss`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("viza.yaml", []byte(tc.yaml))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("a valid configuration refused: %v", err)
				}
				if c.Signatures == nil || c.Signatures.DSS == nil || c.Signatures.DSS.Line == 0 {
					t.Fatalf("signatures.dss not read: %+v", c.Signatures)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
