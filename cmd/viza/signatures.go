package main

import (
	"net/http"
	"os"

	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/signcheck"
)

// useVerifier sets the engine's signature verifier of cfg: КриптоПро SVS
// or a command; without signatures: none, and a stage signed by upload
// refuses signatures (the configuration check does not let one in).
func (m *Main) useVerifier(cfg *config.Config) {
	s := cfg.Signatures
	if s == nil {
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
