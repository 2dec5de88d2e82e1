package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/digitorus/pdfsign/verify"

	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/sheet"
	"github.com/viza-app/viza/pdfseal"
)

// loadSeal makes the company's seal of the configuration (nil without a
// seal section). A seal that cannot be loaded — a file missing, a wrong
// password, an expired certificate — does not stop the service: sheets go
// out unsealed, and the log and /readyz say why.
func (m *Main) loadSeal(cfg *config.Config) {
	sc := cfg.Seal
	if sc == nil {
		return
	}
	s, err := openSeal(cfg, m.Clock.Now())
	if err != nil {
		m.sealProblem = err.Error()
		if m.Log != nil {
			m.Log.Error("seal off: sheets go out unsealed", "err", err)
		}
		return
	}
	m.Seal = s
}

func openSeal(cfg *config.Config, now time.Time) (*pdfseal.Seal, error) {
	sc := cfg.Seal
	s := &pdfseal.Seal{TSA: sc.TSAURL, Name: cfg.Company}
	s.TSATimeout, _ = time.ParseDuration(sc.TSATimeout) // validated with the configuration
	var err error
	switch {
	case sc.Demo:
		s.Signer, s.Chain, err = pdfseal.Demo(filepath.Join(cfg.DataDir, "seal"), cfg.Company, now)
	case sc.PKCS12 != "":
		password, perr := config.Secret(sc.PasswordEnv)
		if perr != nil {
			return nil, perr
		}
		if password == "" {
			return nil, fmt.Errorf("seal: the PKCS#12 password is not set: put it in %s", sc.PasswordEnv)
		}
		s.Signer, s.Chain, err = pdfseal.LoadPKCS12(sc.PKCS12, password)
	default:
		s.Signer, s.Chain, err = pdfseal.LoadPEM(sc.Certificate, sc.Key)
	}
	if err != nil {
		return nil, err
	}
	if c := s.Chain[0]; now.After(c.NotAfter) || now.Before(c.NotBefore) {
		return nil, fmt.Errorf("seal: the certificate %q is valid %s to %s", c.Subject.CommonName, c.NotBefore.Format(time.DateOnly),
			c.NotAfter.Format(time.DateOnly))
	}
	return s, nil
}

// sealStatus is the seal's line of /readyz: up, up without timestamps
// (the TSA did not answer), or failed (sheets go out unsealed).
func (m *Main) sealStatus() (health.Status, bool) {
	if m.Config == nil || m.Config.Seal == nil {
		return health.Status{}, false
	}
	st := health.Status{Name: "seal", State: health.Up}
	switch {
	case m.Seal == nil:
		st.State, st.Reason = health.Failed, m.sealProblem
	case m.Seal.Problem() != "":
		st.State, st.Reason = health.Failed, "sheets go out unsealed: "+m.Seal.Problem()
	case m.Seal.TSAProblem() != "":
		st.Reason = "sealed without a timestamp: " + m.Seal.TSAProblem()
	}
	return st, true
}

// sealSheet seals a rendered sheet; a sheet that cannot be sealed goes
// out as it is, said in the log and /readyz.
func (r *reports) sealSheet(ctx context.Context, pdf []byte, number, lang string) []byte {
	if r.seal == nil {
		return pdf
	}
	// The reason PDF readers show with the signature, in the sheet's language.
	reason := cliText(lang)("sheet.title", nil) + " " + number
	out, res, err := r.seal.Apply(ctx, pdf, reason, r.clock.Now())
	if err != nil {
		if r.log != nil {
			r.log.Error("seal: the sheet goes out unsealed", "number", number, "err", err)
		}
		return pdf
	}
	if res.Problem != "" && r.log != nil {
		r.log.Warn("seal: the sheet is sealed without a timestamp", "number", number, "tsa", res.Problem)
	}
	return out
}

// SealedFinal is d's final version sealed by the company: when the
// configuration asks for it (seal.final_version), the document's approval
// is complete and its current version is a PDF. The seal is an
// incremental update, so the version's own bytes, and the checksum the
// sheet prints for them, stay the first part of the file. ok is false
// when there is nothing to seal or sealing failed (said in the log): the
// version then goes out as uploaded.
func (r *reports) SealedFinal(ctx context.Context, d *flows.Document, lang string) (name string, pdf []byte, ok bool) {
	if r.seal == nil || !r.sealFinal || !d.Approved() {
		return "", nil, false
	}
	v, found := d.Version(d.CurrentVersion())
	if !found || r.files == nil {
		return "", nil, false
	}
	f, err := r.files.Open(v.SHA256)
	if err != nil {
		r.logSeal("seal: the final version cannot be read", d.Number, err)
		return "", nil, false
	}
	data, err := io.ReadAll(io.LimitReader(f, flows.MaxFileSize+1))
	f.Close()
	if err != nil || !bytes.HasPrefix(data, []byte("%PDF-")) {
		if err != nil {
			r.logSeal("seal: the final version cannot be read", d.Number, err)
		}
		return "", nil, false
	}
	reason := cliText(lang)("seal.final_reason", map[string]any{"Number": d.Number, "Version": v.No})
	out, res, err := r.seal.Apply(ctx, data, reason, r.clock.Now())
	if err != nil {
		// A PDF pdfsign cannot read (broken, encrypted) goes as it is.
		r.logSeal("seal: the final version goes out unsealed", d.Number, err)
		return "", nil, false
	}
	if res.Problem != "" && r.log != nil {
		r.log.Warn("seal: the final version is sealed without a timestamp", "number", d.Number, "tsa", res.Problem)
	}
	base := strings.TrimSuffix(v.FileName, filepath.Ext(v.FileName))
	return flows.CleanFileName(base + " (" + cliText(lang)("seal.final_suffix", nil) + ").pdf"), out, true
}

// SealsFinal reports whether final versions are sealed.
func (r *reports) SealsFinal() bool { return r.seal != nil && r.sealFinal }

func (r *reports) logSeal(msg, number string, err error) {
	if r.log != nil {
		r.log.Error(msg, "number", number, "err", err)
	}
}

// VerifySheet checks a sheet file: its seal (the signature is valid, whose
// it is, its timestamp) and that it matches the record it names, as
// VerifyDocument does for a hash typed from paper. 0 only when both hold.
func (r *reports) VerifySheet(ctx context.Context, path, lang string, w io.Writer) int {
	say := cliText(lang)
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(w, "verify:", err)
		return 1
	}
	res, err := verify.Verify(bytes.NewReader(data), int64(len(data)))
	if res == nil {
		fmt.Fprintln(w, say("cli.sheet_unreadable", map[string]any{"File": path, "Err": fmt.Sprint(err)}))
		return 1
	}
	code := 0
	if len(res.Signers) == 0 {
		fmt.Fprintln(w, say("cli.sheet_unsealed", nil))
		code = 1
	}
	for _, sg := range res.Signers {
		who := sg.Name
		if len(sg.Certificates) > 0 {
			who = sg.Certificates[0].Certificate.Subject.CommonName
		}
		stamp := say("cli.seal_no_timestamp", nil)
		if sg.TimeStamp != nil {
			stamp = say("cli.seal_timestamp", map[string]any{"At": sg.TimeStamp.Time.UTC().Format("2006-01-02 15:04:05 UTC")})
		}
		if !sg.ValidSignature {
			fmt.Fprintln(w, say("cli.seal_invalid", map[string]any{"Who": who}))
			code = 1
			continue
		}
		fmt.Fprintln(w, say("cli.seal_valid", map[string]any{"Who": who, "Stamp": stamp}))
	}
	number, hash := "", ""
	for _, k := range strings.Fields(strings.Join(res.DocumentInfo.Keywords, " ")) {
		if v, ok := strings.CutPrefix(k, sheet.KeywordNumber); ok {
			number = v
		}
		if v, ok := strings.CutPrefix(k, sheet.KeywordHash); ok {
			hash = v
		}
	}
	if number == "" || hash == "" {
		fmt.Fprintln(w, say("cli.sheet_not_viza", nil))
		return 1
	}
	if r.VerifyDocument(ctx, number, hash, lang, w) != 0 {
		return 1
	}
	return code
}
