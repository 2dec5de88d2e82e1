package signcheck_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/needs"
	"github.com/viza-app/viza/signcheck"
	"github.com/viza-app/viza/signcheck/signtest"
)

// fakeSVS speaks SVS's REST interface: POST …/signatures with a
// SignedDocument, a list of results back. It checks the signature for
// real (RSA in place of GOST) and refuses an expired certificate, as SVS
// does when it checks the chain.
func fakeSVS(t *testing.T, mode string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/rest/api/signatures") {
			http.NotFound(w, r)
			return
		}
		switch mode {
		case "down":
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		case "slow":
			time.Sleep(2 * time.Second)
		case "html":
			w.Write([]byte("<html>login</html>"))
			return
		}
		if r.Header.Get("Authorization") != "Bearer svs-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var doc struct {
			SignatureType string
			Content       []byte
			Source        []byte
		}
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil || doc.SignatureType != "CAdES" || len(doc.Content) == 0 {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		result, message := true, "Подпись действительна"
		p7, err := pkcs7.Parse(doc.Content)
		switch {
		case err != nil:
			result, message = false, "Неверный формат подписи"
		default:
			p7.Content = doc.Source
			if err := p7.Verify(); err != nil {
				result, message = false, "Подпись не соответствует документу"
			} else if c := p7.GetOnlySigner(); c != nil && time.Now().After(c.NotAfter) {
				result, message = false, "Срок действия сертификата истёк"
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if mode == "object" {
			json.NewEncoder(w).Encode(map[string]any{"Result": result, "Message": message})
			return
		}
		json.NewEncoder(w).Encode([]map[string]any{{"Result": result, "Message": message}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyDetached(t *testing.T) {
	ctx := context.Background()
	doc := []byte("%PDF-1.4 договор поставки, версия 3")
	other := []byte("%PDF-1.4 договор поставки, версия 2")
	petrov := signtest.NewSigner(t, "Петров Пётр Петрович", time.Now().AddDate(1, 0, 0))
	expired := signtest.NewSigner(t, "Сидоров Сидор", time.Now().Add(-time.Hour))
	good := petrov.Sign(t, doc, true)
	pemSig := pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: good})
	b64Sig := []byte(base64.StdEncoding.EncodeToString(good) + "\r\n")
	svs := func(mode string) signcheck.Verifier {
		return &signcheck.SVS{URL: fakeSVS(t, mode).URL + "/verify/rest/api", Token: "svs-token", Timeout: 300 * time.Millisecond}
	}
	cases := []struct {
		name     string
		verifier signcheck.Verifier
		data     []byte
		sig      []byte
		code     string // "" when the signature holds
	}{
		{"valid", svs(""), doc, good, ""},
		{"valid, one result as an object", svs("object"), doc, good, ""},
		{"valid as PEM", svs(""), doc, pemSig, ""},
		{"valid as base64 text", svs(""), doc, b64Sig, ""},
		{"a signature of another file", svs(""), other, good, "signature_invalid"},
		{"an expired certificate", svs(""), doc, expired.Sign(t, doc, true), "signature_invalid"},
		{"attached, not detached", svs(""), doc, petrov.Sign(t, doc, false), "signature_unreadable"},
		{"garbage", svs(""), doc, []byte("это не подпись"), "signature_unreadable"},
		{"empty", svs(""), doc, nil, "signature_unreadable"},
		{"SVS down", svs("down"), doc, good, "verifier_unavailable"},
		{"SVS slow", svs("slow"), doc, good, "verifier_unavailable"},
		{"SVS answers a login page", svs("html"), doc, good, "verifier_unavailable"},
		{"SVS refuses the token", &signcheck.SVS{URL: fakeSVS(t, "").URL + "/verify/rest/api", Token: "wrong"}, doc, good, "verifier_unavailable"},
		{"SVS unreachable", &signcheck.SVS{URL: "http://127.0.0.1:1/rest/api", Timeout: time.Second}, doc, good, "verifier_unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := (&signcheck.Checker{Verifier: c.verifier}).VerifyDetached(ctx, c.data, c.sig)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Owner != "Петров Пётр Петрович, ООО «Север»" || got.Serial != "1234ABCD" || got.Issuer != "Тестовый УЦ, УЦ" ||
					got.SignedAt.IsZero() || got.Verifier != "svs" || got.Message != "Подпись действительна" || len(got.CertSHA256) != 64 {
					t.Fatalf("facts %+v", got)
				}
				return
			}
			var fe *flows.Error
			if !errors.As(err, &fe) || fe.Code != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
}

// TestCommandVerifier: a command on the host decides (openssl stands in
// for cryptcp here: the same contract, exit status 0 when it holds).
func TestCommandVerifier(t *testing.T) {
	openssl := needs.Program(t, "openssl", "openssl")
	ctx := context.Background()
	doc, other := []byte("версия 3"), []byte("версия 2")
	sig := signtest.NewSigner(t, "Петров", time.Now().AddDate(1, 0, 0)).Sign(t, doc, true)
	verify := []string{openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", "{sig}", "-content", "{data}", "-noverify",
		"-out", "/dev/null"}
	cases := []struct {
		name string
		cmd  signcheck.Command
		data []byte
		code string
	}{
		{"valid", signcheck.Command{Args: verify}, doc, ""},
		{"another file", signcheck.Command{Args: verify}, other, "signature_invalid"},
		{"no such program", signcheck.Command{Args: []string{"/nonexistent/cryptcp", "{sig}", "{data}"}}, doc, "verifier_unavailable"},
		{"too slow", signcheck.Command{Args: []string{"sh", "-c", "sleep 5", "{sig}", "{data}"}, Timeout: 200 * time.Millisecond}, doc,
			"verifier_unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := (&signcheck.Checker{Verifier: &c.cmd}).VerifyDetached(ctx, c.data, sig)
			if c.code == "" {
				if err != nil || got.Verifier != "command" || got.Owner != "Петров, ООО «Север»" {
					t.Fatalf("%+v, %v", got, err)
				}
				return
			}
			var fe *flows.Error
			if !errors.As(err, &fe) || fe.Code != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if c.code == "signature_invalid" && (fe.Error() == "" || strings.Contains(fe.Error(), "viza-verify-")) {
				t.Fatalf("the message says too little or names the private folder: %v", fe)
			}
		})
	}
}

// TestCheckerSaysWhetherTheVerifierAnswers: a verifier that did not answer
// is the checker's problem until it answers again, whatever it says.
func TestCheckerSaysWhetherTheVerifierAnswers(t *testing.T) {
	ctx := context.Background()
	doc := []byte("версия 1")
	sig := signtest.NewSigner(t, "Петров", time.Now().AddDate(1, 0, 0)).Sign(t, doc, true)
	svs := &signcheck.SVS{URL: "http://127.0.0.1:1/rest/api", Token: "svs-token", Timeout: time.Second}
	c := &signcheck.Checker{Verifier: svs}
	if c.Problem() != "" {
		t.Fatal("a problem before any verification")
	}
	c.VerifyDetached(ctx, doc, sig)
	if !strings.Contains(c.Problem(), "svs") {
		t.Fatalf("problem %q after an unreachable SVS", c.Problem())
	}
	svs.URL = fakeSVS(t, "").URL + "/verify/rest/api"
	c.VerifyDetached(ctx, []byte("другой"), sig) // refused, but answered
	if c.Problem() != "" {
		t.Fatalf("problem %q after SVS answered", c.Problem())
	}
}
