package main

import (
	"context"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/signcheck/signtest"
)

// TestVerifierOnReadyz: the configured signature verifier has its line on
// /readyz, failed with the reason while it does not answer; without
// signatures: it has none.
func TestVerifierOnReadyz(t *testing.T) {
	m := &Main{Engine: flows.NewEngine(nil, nil, flows.SystemClock{}, nil, &flows.Directory{})}
	m.useVerifier(&config.Config{})
	if _, ok := m.verifierStatus(); ok {
		t.Fatal("a verifier line without signatures: in the configuration")
	}
	m.useVerifier(&config.Config{Signatures: &config.Signatures{SVSURL: "http://127.0.0.1:1/verify/rest/api", Timeout: "2s"}})
	if st, ok := m.verifierStatus(); !ok || st.State != health.Up {
		t.Fatalf("before any signature: %+v", st)
	}
	doc := []byte("версия 1")
	sig := signtest.NewSigner(t, "Петров", time.Now().AddDate(1, 0, 0)).Sign(t, doc, true)
	if _, err := m.verifier.Load().VerifyDetached(context.Background(), doc, sig); flows.ErrorCode(err) != "verifier_unavailable" {
		t.Fatalf("an unreachable SVS: %v", err)
	}
	if st, _ := m.verifierStatus(); st.State != health.Failed || st.Reason == "" {
		t.Fatalf("after SVS did not answer: %+v", st)
	}
	// A reload without signatures: takes the verifier away.
	m.useVerifier(&config.Config{})
	if _, ok := m.verifierStatus(); ok {
		t.Fatal("the verifier outlived its configuration")
	}
}

// TestDSSOnReadyz: the configured КриптоПро DSS has its line on /readyz,
// failed with the reason while it does not answer; a configuration with
// DSS alone has no verifier line; a reload without DSS takes it away.
func TestDSSOnReadyz(t *testing.T) {
	m := &Main{Engine: flows.NewEngine(nil, nil, flows.SystemClock{}, nil, &flows.Directory{})}
	t.Setenv("VIZA_TEST_DSS", "tok")
	m.useVerifier(&config.Config{Signatures: &config.Signatures{Timeout: "2s",
		DSS: &config.DSS{URL: "http://127.0.0.1:1/SignServer/rest/api", TokenEnv: "VIZA_TEST_DSS"}}})
	if _, ok := m.verifierStatus(); ok {
		t.Fatal("a verifier line with DSS alone")
	}
	if st, ok := m.dssStatus(); !ok || st.State != health.Up {
		t.Fatalf("before any signing: %+v, %v", st, ok)
	}
	if _, err := m.dss.Load().Start(context.Background(), "director", "a.pdf", []byte("x")); flows.ErrorCode(err) != "dss_unavailable" {
		t.Fatalf("an unreachable DSS: %v", err)
	}
	if st, _ := m.dssStatus(); st.State != health.Failed || st.Reason == "" {
		t.Fatalf("after DSS did not answer: %+v", st)
	}
	m.useVerifier(&config.Config{})
	if _, ok := m.dssStatus(); ok {
		t.Fatal("DSS outlived its configuration")
	}
}
