package main

import (
	"net/http"
	"os"

	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/signcheck"
	"github.com/viza-app/viza/signcheck/dss"
)

// useVerifier sets the engine's signature verifier of cfg: КриптоПро SVS
// or a command; without signatures: none, and a stage signed by upload
// refuses signatures (the configuration check does not let one in).
func (m *Main) useVerifier(cfg *config.Config) {
	m.useDSS(cfg)
	s := cfg.Signatures
	if s == nil || (s.SVSURL == "" && len(s.Command) == 0) {
		m.verifier.Store(nil)
		m.Engine.SetVerifier(nil)
		return
	}
	var v signcheck.Verifier
	if s.SVSURL != "" {
		v = &signcheck.SVS{URL: s.SVSURL, Token: os.Getenv(s.SVSTokenEnv), Timeout: s.VerifierTimeout(),
			Client: &http.Client{Timeout: s.VerifierTimeout()}}
	} else {
		v = &signcheck.Command{Args: s.Command, Timeout: s.VerifierTimeout()}
	}
	c := &signcheck.Checker{Verifier: v}
	m.verifier.Store(c)
	m.Engine.SetVerifier(c)
}

// verifierStatus is the signature verifier's line of /readyz: up, or
// failed with why the last verification got no answer (signatures are
// refused until it answers again; nothing else waits for it).
func (m *Main) verifierStatus() (health.Status, bool) {
	c := m.verifier.Load()
	if c == nil {
		return health.Status{}, false
	}
	st := health.Status{Name: "signature verifier", State: health.Up}
	if p := c.Problem(); p != "" {
		st.State, st.Reason = health.Failed, p
	}
	return st, true
}

// useDSS sets the engine's КриптоПро DSS of cfg (signatures.dss), or none.
func (m *Main) useDSS(cfg *config.Config) {
	if cfg.Signatures == nil || cfg.Signatures.DSS == nil {
		m.dss.Store(nil)
		m.Engine.SetDSS(flows.DSSSettings{})
		return
	}
	d := cfg.Signatures.DSS
	var tokens dss.TokenSource = dss.EnvToken{Value: os.Getenv(d.TokenEnv)}
	switch {
	case len(d.TokenCommand) > 0:
		tokens = &dss.TokenCommand{Args: d.TokenCommand}
	case d.OAuth != nil:
		tokens = &dss.OAuthPassword{URL: d.OAuth.URL, ClientID: d.OAuth.ClientID, Username: d.OAuth.Username,
			Password: os.Getenv(d.OAuth.PasswordEnv), Client: &http.Client{Timeout: cfg.Signatures.VerifierTimeout()}}
	}
	c := &dss.Client{URL: d.URL, Tokens: tokens, Users: d.Users, CertificateID: d.CertificateID, Template: d.ProcessingTemplate,
		Timeout: cfg.Signatures.VerifierTimeout()}
	poll, within := d.Durations()
	m.dss.Store(c)
	m.Engine.SetDSS(flows.DSSSettings{Signer: c, PollEvery: poll, Expiry: within})
}

// dssStatus is DSS's line of /readyz: failed, with why, while it does not
// answer (signers' operations wait and are asked again; nothing else
// waits for it).
func (m *Main) dssStatus() (health.Status, bool) {
	c := m.dss.Load()
	if c == nil {
		return health.Status{}, false
	}
	st := health.Status{Name: "КриптоПро DSS", State: health.Up}
	if p := c.Problem(); p != "" {
		st.State, st.Reason = health.Failed, p
	}
	return st, true
}
