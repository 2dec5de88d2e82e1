package messages

import (
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// SignatureLine says what a verified electronic signature is, for reader:
// the version, whose certificate, its serial and issuer, when it was made
// and who checked it.
func SignatureLine(r Renderer, s flows.Signature, lang string, reader flows.PersonID) rich.Text {
	r.Lang = lang
	signed := ""
	if !s.SignedAt.IsZero() {
		signed = r.FormatTimeFor(reader, s.SignedAt)
	}
	return Say(lang, "signature.line", map[string]any{"Version": s.Version, "Owner": s.Owner, "Serial": s.Serial, "Issuer": s.Issuer,
		"Signed": signed, "Checked": r.FormatTimeFor(reader, s.At), "Verifier": s.Verifier, "Message": s.Message, "By": r.Name(s.By), "InDSS": s.Method == flows.SignDSS})
}
