package pdfseal

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// DemoName marks a demo seal's certificate, so that nobody takes a sheet
// sealed by it for a real one.
const DemoName = "ДЕМО / DEMO — not for legally significant documents"

// Demo loads the demo seal kept in dir, making a new one (self-signed,
// valid two years) when there is none or it has expired.
func Demo(dir, company string, now time.Time) (crypto.Signer, []*x509.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "demo-seal.crt"), filepath.Join(dir, "demo-seal.key")
	if key, chain, err := LoadPEM(certFile, keyFile); err == nil && now.Before(chain[0].NotAfter) {
		return key, chain, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: company + " — " + DemoName, Organization: []string{company}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, fmt.Errorf("demo seal: %w", err)
	}
	return LoadPEM(certFile, keyFile)
}
