package config

import (
	"net/url"
	"time"
)

// Seal is the company's electronic seal on the approval sheets: a
// certificate and key as PEM files, or a PKCS#12 file with its password
// in the environment; or, for the demo, a certificate Viza makes itself
// and marks as a demo. Without this section sheets are not sealed.
type Seal struct {
	Certificate string `yaml:"certificate"`  // PEM: the seal's certificate, then its issuers
	Key         string `yaml:"key"`          // PEM: its private key, unencrypted
	PKCS12      string `yaml:"pkcs12"`       // .p12/.pfx instead of the two above
	PasswordEnv string `yaml:"password_env"` // the variable holding the PKCS#12 password
	// Demo makes a self-signed certificate in data_dir on first start,
	// named as a demo: for trying Viza, never for real documents.
	Demo bool `yaml:"demo"`
	// TSAURL is an RFC 3161 time-stamping service; TSATimeout bounds a
	// round trip to it (default 10s).
	TSAURL     string `yaml:"tsa_url"`
	TSATimeout string `yaml:"tsa_timeout"`
	// FinalVersion seals the final version too, when it is a PDF: the copy
	// sent with the approval and downloaded from the document page. The
	// version itself is kept as uploaded, with its checksum.
	FinalVersion bool `yaml:"final_version"`
	Line         int  `yaml:"-"`
}

func (c *Config) validateSeal(ps *Problems) {
	s := c.Seal
	if s == nil {
		return
	}
	pem, p12 := s.Certificate != "" || s.Key != "", s.PKCS12 != ""
	switch {
	case s.Demo && (pem || p12):
		ps.add(s.Line, "seal.demo", "a demo seal takes no certificate: remove demo, or the certificate")
	case s.Demo:
	case pem && p12:
		ps.add(s.Line, "seal", "give certificate and key, or pkcs12, not both")
	case pem && (s.Certificate == "" || s.Key == ""):
		ps.add(s.Line, "seal", "certificate and key go together")
	case p12 && s.PasswordEnv == "":
		ps.add(s.Line, "seal.password_env", "is required with pkcs12: the variable that holds its password")
	case !pem && !p12:
		ps.add(s.Line, "seal", "give certificate and key, or pkcs12 and password_env, or demo: true")
	}
	if s.TSAURL != "" {
		if u, err := url.Parse(s.TSAURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(s.Line, "seal.tsa_url", "want an http(s) address")
		}
	}
	if s.TSATimeout == "" {
		s.TSATimeout = "10s"
	}
	if d, err := time.ParseDuration(s.TSATimeout); err != nil || d <= 0 || d > 5*time.Minute {
		ps.add(s.Line, "seal.tsa_timeout", "%q: want a duration up to 5m, such as 10s", s.TSATimeout)
	}
}
