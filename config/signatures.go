package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
)

// Signatures is the verifier of the electronic signatures signers upload
// at a sign stage with method: upload. Viza checks no GOST signature
// itself: КриптоПро SVS does over REST, or a command on a host with
// КриптоПро CSP (cryptcp). One of the two.
type Signatures struct {
	// SVSURL is SVS's REST root, https://host/<application>/rest/api;
	// SVSTokenEnv names the variable holding a bearer token, when SVS
	// wants one.
	SVSURL      string `yaml:"svs_url"`
	SVSTokenEnv string `yaml:"svs_token_env"`
	// Command verifies one signature: its arguments name the files with
	// {data} (the version) and {sig} (the signature); exit status 0 means
	// the signature holds.
	Command []string `yaml:"command"`
	// Timeout bounds one verification (default 30s).
	Timeout string `yaml:"timeout"`
	Line    int    `yaml:"-"`
}

// VerifierTimeout is how long one verification may take.
func (s *Signatures) VerifierTimeout() time.Duration {
	if d, err := time.ParseDuration(s.Timeout); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

func (c *Config) validateSignatures(ps *Problems) {
	s := c.Signatures
	if s == nil {
		return
	}
	switch {
	case s.SVSURL != "" && len(s.Command) > 0:
		ps.add(s.Line, "signatures", "give svs_url or command, not both")
	case s.SVSURL != "":
		if u, err := url.Parse(s.SVSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(s.Line, "signatures.svs_url", "want an http(s) address")
		}
	case len(s.Command) > 0:
		joined := strings.Join(s.Command, " ")
		if !strings.Contains(joined, "{data}") || !strings.Contains(joined, "{sig}") {
			ps.add(s.Line, "signatures.command", "name the files with {data} and {sig}")
		}
	default:
		ps.add(s.Line, "signatures", "give svs_url (КриптоПро SVS) or command (such as cryptcp)")
	}
	if s.Timeout != "" {
		if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 || d > 10*time.Minute {
			ps.add(s.Line, "signatures.timeout", "%q: want a duration up to 10m, such as 30s", s.Timeout)
		}
	}
}

// validateMethod checks how a stage is signed.
func (c *Config) validateMethod(ps *Problems, s *Stage, spath string) {
	if s.Method == "" {
		return
	}
	at := line(s.Lines, "method", s.Line)
	switch {
	case s.Kind != flows.KindSign:
		ps.add(at, spath+".method", "only a sign stage has a method")
	case !slices.Contains([]string{flows.SignScan, flows.SignUpload}, s.Method):
		ps.add(at, spath+".method", "%q: want scan or upload", s.Method)
	case s.Method == flows.SignUpload && c.Signatures == nil:
		ps.add(at, spath+".method", "upload needs a verifier: add signatures: with svs_url or command")
	}
}
