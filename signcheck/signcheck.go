// Package signcheck checks a detached signature (CAdES, a .sig or .p7s
// file) that a signer made with their own tools — КриптоПро CSP, a token
// in the browser, Контур.Крипто — against the bytes of the version they
// signed.
//
// Viza cannot check a GOST signature itself (Go's crypto has no GOST) and
// never holds a person's key. It reads who signed from the signature's
// certificates and asks the company's verifier whether the signature
// holds: КриптоПро SVS over REST (SVS), or a command on a host with
// КриптоПро CSP such as cryptcp (Command).
package signcheck

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/viza-app/viza/flows"
)

// Verdict is what a verifier says of a signature.
type Verdict struct {
	Valid   bool
	Message string // the verifier's words, when it gave any
}

// Verifier checks a detached signature (DER) of data. An error means it
// could not say (down, slow, misconfigured); a signature that does not
// hold is a Verdict, not an error.
type Verifier interface {
	Verify(ctx context.Context, data, sig []byte) (Verdict, error)
	Name() string
}

// Checker implements flows.SignatureVerifier with a Verifier, and keeps
// whether the verifier answered last time, for /readyz.
type Checker struct {
	Verifier Verifier
	problem  atomic.Value // string: why the last verification got no answer; "" when it got one
}

// Problem says why the verifier did not answer the last time it was
// asked; "" when it answered (whatever it said) or was not asked yet.
func (c *Checker) Problem() string {
	s, _ := c.problem.Load().(string)
	return s
}

// VerifyDetached reads who signed sig and asks the verifier whether sig is
// a signature of data.
func (c *Checker) VerifyDetached(ctx context.Context, data, sig []byte) (flows.SignatureCheck, error) {
	der, err := Decode(sig)
	if err != nil {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindInvalid, "signature_unreadable", "%v", err)
	}
	facts, err := Facts(der)
	if err != nil {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindInvalid, "signature_unreadable", "%v", err)
	}
	v, err := c.Verifier.Verify(ctx, data, der)
	if err != nil {
		c.problem.Store(err.Error())
		return flows.SignatureCheck{}, flows.Errorf(flows.KindTransient, "verifier_unavailable", "%s: %v", c.Verifier.Name(), err)
	}
	c.problem.Store("")
	facts.Verifier, facts.Message = c.Verifier.Name(), v.Message
	if !v.Valid {
		return facts, flows.Errorf(flows.KindInvalid, "signature_invalid", "%s", cmp.Or(v.Message, "the verifier refused the signature"))
	}
	return facts, nil
}

// Decode turns a signature file into DER: as it is, from PEM, or from
// base64 text (what cryptcp and the browser plug-in write by default).
func Decode(sig []byte) ([]byte, error) {
	if len(sig) == 0 {
		return nil, errors.New("the signature file is empty")
	}
	if len(sig) > flows.MaxSignatureSize {
		return nil, fmt.Errorf("the signature file is %d bytes, more than a signature's %d", len(sig), flows.MaxSignatureSize)
	}
	if sig[0] == 0x30 {
		return sig, nil // DER: a SEQUENCE
	}
	if b, _ := pem.Decode(sig); b != nil {
		return b.Bytes, nil
	}
	text := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, string(sig))
	der, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(der) == 0 || der[0] != 0x30 {
		return nil, errors.New("not a signature: neither DER, PEM nor base64 of a CMS structure")
	}
	return der, nil
}

// Facts reads who signed a detached CMS signature: its one signer's
// certificate (owner, serial, issuer, validity) and the signing time it
// carries. It checks nothing: that is the verifier's.
func Facts(der []byte) (flows.SignatureCheck, error) {
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return flows.SignatureCheck{}, fmt.Errorf("not a CMS signature: %w", err)
	}
	if len(p7.Signers) != 1 {
		return flows.SignatureCheck{}, fmt.Errorf("%d signers in one signature file; one is expected", len(p7.Signers))
	}
	if len(p7.Content) != 0 {
		return flows.SignatureCheck{}, errors.New("the signature holds the document itself (attached); a detached signature is expected")
	}
	cert := p7.GetOnlySigner()
	if cert == nil {
		return flows.SignatureCheck{}, errors.New("the signer's certificate is not in the signature")
	}
	f := flows.SignatureCheck{Owner: owner(cert.Subject.CommonName, cert.Subject.Organization, cert.Subject.String()),
		Serial: serial(cert.SerialNumber), Issuer: owner(cert.Issuer.CommonName, cert.Issuer.Organization, cert.Issuer.String()),
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, CertSHA256: sum(cert.Raw)}
	var at time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &at); err == nil {
		f.SignedAt = at
	}
	return f, nil
}

func owner(cn string, org []string, whole string) string {
	switch {
	case cn != "" && len(org) > 0 && org[0] != cn:
		return cn + ", " + org[0]
	case cn != "":
		return cn
	}
	return whole
}

func serial(n *big.Int) string {
	if n == nil {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(n.Bytes()))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Excerpt is a service's words, made one line and cut, for an error or a
// log line.
func Excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(b, nil))), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
