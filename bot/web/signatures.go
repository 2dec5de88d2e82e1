package web

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// signatureView is a verified electronic signature on the document page:
// what it says in words and where its file is.
type signatureView struct {
	Line     template.HTML
	Href     string
	Version  int
	FileName string
}

// signatureViews lists d's verified signatures for reader p.
func (s *Server) signatureViews(d *flows.Document, p *flows.Person, lang string) []signatureView {
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	var out []signatureView
	for i, sg := range d.Signatures {
		out = append(out, signatureView{Line: richHTML(messages.SignatureLine(rd, sg, lang, p.ID)),
			Href: fmt.Sprintf("/doc/%s/signature/%d", d.Number, i+1), Version: sg.Version, FileName: sg.FileName})
	}
	return out
}

// docSignature sends the file of the document's n-th verified signature
// (1-based), as the signer uploaded it, to anyone who may read the
// document.
func (s *Server) docSignature(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	d, err := s.visible(r, p)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > len(d.Signatures) {
		s.fail(w, p, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "file_not_found", "signature %q", r.PathValue("n")))
		return
	}
	sg := d.Signatures[n-1]
	f, err := s.Files.Open(sg.SHA256)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": flows.CleanFileName(sg.FileName)}))
	w.Header().Set("Content-Type", "application/pkcs7-signature")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	io.Copy(w, f)
}

// FinalSealer is a Reports that also seals the final version (see
// chat.FinalSealer).
type FinalSealer interface {
	SealsFinal() bool
	SealedFinal(ctx context.Context, d *flows.Document, lang string) (name string, pdf []byte, ok bool)
}

// docFinalSealed sends the final version sealed by the company to anyone
// who may read the document; without a sealed copy, the version as
// uploaded.
func (s *Server) docFinalSealed(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	d, err := s.visible(r, p)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	fs, ok := s.Reports.(FinalSealer)
	if !ok || !d.Approved() {
		s.fail(w, p, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "file_not_found", "no sealed final version of %s", d.Number))
		return
	}
	name, pdf, ok := fs.SealedFinal(r.Context(), d, s.lang(p))
	if !ok {
		http.Redirect(w, r, fmt.Sprintf("/doc/%s/v/%d", d.Number, d.CurrentVersion()), http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Write(pdf)
}
