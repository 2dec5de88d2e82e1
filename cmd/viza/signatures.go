package main

import (
	"net/http"
	"os"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/signcheck"
)

// useVerifier sets the engine's signature verifier of cfg: КриптоПро SVS
// or a command; without signatures: none, and a stage signed by upload
// refuses signatures (the configuration check does not let one in).
func (m *Main) useVerifier(cfg *config.Config) {
	s := cfg.Signatures
	if s == nil {
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
	m.Engine.SetVerifier(signcheck.Checker{Verifier: v})
}
