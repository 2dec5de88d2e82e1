package dss_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/signcheck/dss"
	"github.com/viza-app/viza/signcheck/dss/dsstest"
	"github.com/viza-app/viza/signcheck/signtest"
)

func rig(t *testing.T) (*dsstest.Server, *dss.Client) {
	t.Helper()
	signer := signtest.NewSigner(t, "Петров Пётр", time.Now().AddDate(1, 0, 0))
	fake := dsstest.New(t, signer, map[string]string{"tok-petrov": "petrov@dss", "tok-ivanov": "ivanov"})
	c := &dss.Client{URL: fake.API(), Tokens: &dss.TokenCommand{Args: []string{"sh", "-c", `case "$1" in petrov@dss) echo tok-petrov;; ivanov) echo tok-ivanov;; *) echo "no such user" >&2; exit 3;; esac`, "token", "{user}"}},
		Users: map[string]string{"petrov": "petrov@dss"}, Timeout: 5 * time.Second}
	return fake, c
}

func TestSigningInDSS(t *testing.T) {
	ctx := context.Background()
	data := []byte("договор поставки, v2")
	for _, tc := range []struct {
		name   string
		act    func(f *dsstest.Server, id string)
		state  string
		reason string
	}{
		{"confirmed in myDSS", func(f *dsstest.Server, id string) { f.Confirm(id) }, flows.DSSCompleted, ""},
		{"refused in myDSS", func(f *dsstest.Server, id string) { f.Decline(id) }, flows.DSSDeclined, "Отклонено пользователем"},
		{"failed in DSS", func(f *dsstest.Server, id string) { f.Fail(id, "Сертификат отозван") }, flows.DSSFailed, "Сертификат отозван"},
		{"not yet confirmed", func(*dsstest.Server, string) {}, flows.DSSPending, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, c := rig(t)
			st, err := c.Start(ctx, "petrov", "contract.pdf", data)
			if err != nil || st.State != flows.DSSPending || st.ID == "" {
				t.Fatalf("start: %+v, %v", st, err)
			}
			if op := fake.Op(st.ID); op.User != "petrov@dss" || string(op.Data) != string(data) {
				t.Fatalf("DSS got %q from %s", op.Data, op.User)
			}
			tc.act(fake, st.ID)
			got, err := c.Status(ctx, "petrov", st.ID)
			if err != nil || got.State != tc.state || got.Reason != tc.reason {
				t.Fatalf("status: %+v, %v; want %s %q", got, err, tc.state, tc.reason)
			}
			if tc.state == flows.DSSCompleted {
				if len(got.Signature) == 0 || got.Check.Owner == "" || !strings.Contains(got.Check.Owner, "Петров") || got.Check.Verifier != "dss" {
					t.Fatalf("signature facts: %+v", got.Check)
				}
			} else if len(got.Signature) != 0 {
				t.Fatalf("a %s operation came with a signature", got.State)
			}
			if c.Problem() != "" {
				t.Fatalf("problem after an answer: %s", c.Problem())
			}
		})
	}
}

func TestSigningWithoutConfirmation(t *testing.T) {
	fake, c := rig(t)
	fake.NoAsk["ivanov"] = true
	st, err := c.Start(context.Background(), "ivanov", "a.pdf", []byte("x"))
	if err != nil || st.State != flows.DSSCompleted || len(st.Signature) == 0 {
		t.Fatalf("%+v, %v", st, err)
	}
}

// A DSS that cannot answer is no answer — never a refusal that would end
// the signer's operation, and never a signature.
func TestDSSWithoutAnswer(t *testing.T) {
	ctx := context.Background()
	fake, c := rig(t)
	st, err := c.Start(ctx, "petrov", "a.pdf", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	fake.Down(true)
	if _, err := c.Status(ctx, "petrov", st.ID); flows.ErrorKind(err) != flows.KindTransient || c.Problem() == "" {
		t.Fatalf("down: %v, problem %q", err, c.Problem())
	}
	fake.Down(false)
	if _, err := c.Status(ctx, "petrov", st.ID); err != nil || c.Problem() != "" {
		t.Fatalf("back: %v, problem %q", err, c.Problem())
	}
	// Nobody DSS knows: the token command fails.
	if _, err := c.Start(ctx, "sidorov", "a.pdf", []byte("x")); flows.ErrorKind(err) != flows.KindTransient || !strings.Contains(err.Error(), "exit status 3") ||
		strings.Contains(err.Error(), "no such user") {
		t.Fatalf("unknown signer: %v", err)
	}
	// A token DSS refuses.
	bad := &dss.Client{URL: c.URL, Tokens: dss.EnvToken{Value: "expired"}}
	if _, err := bad.Status(ctx, "petrov", st.ID); flows.ErrorKind(err) != flows.KindTransient || !strings.Contains(err.Error(), "401") {
		t.Fatalf("refused token: %v", err)
	}
	// An operation DSS no longer knows ends.
	if got, err := c.Status(ctx, "petrov", "no-such-op"); err != nil || got.State != flows.DSSFailed {
		t.Fatalf("unknown operation: %+v, %v", got, err)
	}
	for _, answer := range []string{`<html>login</html>`, `{"OperationId":"1","Status":"Completed"}`, `{"Status":"Completed","Documents":[{"Content":"bm90IGEgY21z"}]}`, `{"Status":"Surprise"}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(answer)) }))
		odd := &dss.Client{URL: srv.URL, Tokens: dss.EnvToken{Value: "t"}}
		got, err := odd.Status(ctx, "petrov", "1")
		srv.Close()
		if flows.ErrorKind(err) != flows.KindTransient || len(got.Signature) != 0 {
			t.Errorf("answer %s: %+v, %v", answer, got, err)
		}
	}
	// A DSS that does not answer until the test ends.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	if _, err := (&dss.Client{URL: slow.URL, Tokens: dss.EnvToken{Value: "t"}, Timeout: 200 * time.Millisecond}).Status(ctx, "petrov", "1"); flows.ErrorKind(err) != flows.KindTransient {
		t.Fatalf("slow: %v", err)
	}
}

// TestTokenFromTheIdentityService: one DSS account's token comes from
// DSS's identity service by the password grant, is kept until shortly
// before it ends, and a wrong password is no answer, with the service's
// words.
func TestTokenFromTheIdentityService(t *testing.T) {
	ctx := context.Background()
	signer := signtest.NewSigner(t, "Петров Пётр", time.Now().AddDate(1, 0, 0))
	fake := dsstest.New(t, signer, map[string]string{})
	fake.Passwords = map[string]string{"petrov": "s3cret"}
	now := time.Now()
	sts := &dss.OAuthPassword{URL: fake.URL + "/STS/oauth", ClientID: "viza", Username: "petrov", Password: "s3cret"}
	dss.SetNow(sts, func() time.Time { return now })
	c := &dss.Client{URL: fake.API(), Tokens: sts, Timeout: 5 * time.Second}
	for range 3 {
		if st, err := c.Start(ctx, "petrov", "a.pdf", []byte("x")); err != nil || st.State != flows.DSSPending {
			t.Fatalf("start with the identity service's token: %+v, %v", st, err)
		}
	}
	if fake.TokensIssued != 1 {
		t.Fatalf("%d tokens for three requests within its life", fake.TokensIssued)
	}
	now = now.Add(5 * time.Minute)
	if _, err := c.Start(ctx, "petrov", "a.pdf", []byte("x")); err != nil || fake.TokensIssued != 2 {
		t.Fatalf("after the token's life: %v, %d tokens", err, fake.TokensIssued)
	}
	wrong := &dss.Client{URL: fake.API(), Tokens: &dss.OAuthPassword{URL: fake.URL + "/STS/oauth", ClientID: "viza", Username: "petrov", Password: "x"}}
	if _, err := wrong.Start(ctx, "petrov", "a.pdf", []byte("x")); flows.ErrorKind(err) != flows.KindTransient || !strings.Contains(err.Error(), "Неверное имя") {
		t.Fatalf("a wrong password: %v", err)
	}
}
