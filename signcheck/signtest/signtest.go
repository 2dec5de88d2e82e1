// Package signtest makes what tests of signatures need: a person's
// certificate from a test authority, and detached CMS signatures with it,
// as a signer's own tools make them (RSA standing in for GOST).
package signtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
)

// Signer is a person's certificate and key.
type Signer struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewSigner makes name's certificate, valid until notAfter, issued by a
// test authority ("Тестовый УЦ", serial 1234ABCD, organisation «Север»).
func NewSigner(t testing.TB, name string, notAfter time.Time) Signer {
	t.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Тестовый УЦ", Organization: []string{"УЦ"}},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(0x1234abcd), Subject: pkix.Name{CommonName: name, Organization: []string{"ООО «Север»"}},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return Signer{cert, key}
}

// Sign makes a CMS signature of data (CAdES-BES is CMS with signed
// attributes), detached or with data inside.
func (s Signer) Sign(t testing.TB, data []byte, detached bool) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(s.Cert, s.Key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	if detached {
		sd.Detach()
	}
	b, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
