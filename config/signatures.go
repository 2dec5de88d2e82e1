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
	// DSS signs stages with method: dss in КриптоПро DSS.
	DSS  *DSS `yaml:"dss"`
	Line int  `yaml:"-"`
}

// DSS is the company's КриптоПро DSS: its signing service's REST root
// and how Viza gets a token in a signer's name — from DSS's identity
// service for one account (one person signs), one token from the
// environment, or a command that prints a signer's token ({user}: their
// DSS login).
type DSS struct {
	URL          string            `yaml:"url"`
	OAuth        *DSSOAuth         `yaml:"oauth"`
	TokenEnv     string            `yaml:"token_env"`
	TokenCommand []string          `yaml:"token_command"`
	Users        map[string]string `yaml:"users"` // Viza login → DSS login, where they differ
	// CertificateID is the signer's certificate in DSS (default "0", their
	// default certificate); ProcessingTemplate a DSS processing template
	// to use instead of CAdES-BES detached.
	CertificateID      string `yaml:"certificate_id"`
	ProcessingTemplate string `yaml:"processing_template"`
	// PollEvery is how often DSS is asked while a signer has not
	// confirmed (default 5s); ConfirmWithin how long that is waited for
	// (default 15m).
	PollEvery     string `yaml:"poll_every"`
	ConfirmWithin string `yaml:"confirm_within"`
	Line          int    `yaml:"-"`
}

// DSSOAuth is one DSS account signing in at DSS's identity service with
// the password grant: its OAuth root (https://host/STS/oauth), the OAuth
// client registered for Viza, the account's login, and the variable that
// holds its password.
type DSSOAuth struct {
	URL         string `yaml:"url"`
	ClientID    string `yaml:"client_id"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	Line        int    `yaml:"-"`
}

// Durations of d; zero where not given (the engine's defaults then apply:
// flows.SetDSS).
func (d *DSS) Durations() (poll, within time.Duration) {
	if v, err := time.ParseDuration(d.PollEvery); err == nil && v > 0 {
		poll = v
	}
	if v, err := time.ParseDuration(d.ConfirmWithin); err == nil && v > 0 {
		within = v
	}
	return poll, within
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
	case s.DSS == nil:
		ps.add(s.Line, "signatures", "give svs_url (КриптоПро SVS) or command (such as cryptcp)")
	}
	if s.DSS != nil {
		c.validateDSS(ps, s.DSS)
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
	case !slices.Contains([]string{flows.SignScan, flows.SignUpload, flows.SignDSS}, s.Method):
		ps.add(at, spath+".method", "%q: want scan, upload or dss", s.Method)
	case s.Method == flows.SignUpload && (c.Signatures == nil || (c.Signatures.SVSURL == "" && len(c.Signatures.Command) == 0)):
		ps.add(at, spath+".method", "upload needs a verifier: add signatures: with svs_url or command")
	case s.Method == flows.SignDSS && (c.Signatures == nil || c.Signatures.DSS == nil):
		ps.add(at, spath+".method", "dss needs КриптоПро DSS: add signatures: with dss:")
	}
}

func (c *Config) validateDSS(ps *Problems, d *DSS) {
	if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.add(d.Line, "signatures.dss.url", "want an http(s) address")
	}
	ways := 0
	for _, given := range []bool{d.OAuth != nil, d.TokenEnv != "", len(d.TokenCommand) > 0} {
		if given {
			ways++
		}
	}
	switch {
	case ways > 1:
		ps.add(d.Line, "signatures.dss", "give one of oauth, token_env and token_command")
	case ways == 0:
		ps.add(d.Line, "signatures.dss", "give oauth (one signer's account), token_env (one signer's token) or token_command (a token per signer)")
	case len(d.TokenCommand) > 0:
		if !strings.Contains(strings.Join(d.TokenCommand, " "), "{user}") {
			ps.add(d.Line, "signatures.dss.token_command", "name the signer with {user}")
		}
	case d.OAuth != nil:
		o := d.OAuth
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(o.Line, "signatures.dss.oauth.url", "want an http(s) address")
		}
		if o.ClientID == "" || o.Username == "" || o.PasswordEnv == "" {
			ps.add(o.Line, "signatures.dss.oauth", "give client_id, username and password_env")
		}
	}
	for key, v := range map[string]string{"poll_every": d.PollEvery, "confirm_within": d.ConfirmWithin} {
		if v == "" {
			continue
		}
		if dur, err := time.ParseDuration(v); err != nil || dur < time.Second || dur > 24*time.Hour {
			ps.add(d.Line, "signatures.dss."+key, "%q: want a duration from 1s to 24h, such as 5s", v)
		}
	}
}
