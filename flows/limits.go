package flows

import (
	"fmt"
	"unicode/utf8"
)

// The longest texts a document takes, in characters. They are enforced
// here, in the engine, so that every way in — a chat, the web, the
// connector — is held to them, and every way out (cards, mails, webhooks,
// list pages, the sheet) can rely on them: an 8 MB title accepted once is
// rendered into everything after.
const (
	MaxTitle        = 500
	MaxCounterparty = 300
	MaxComment      = 4000 // comments, reasons, remarks
	MaxExternalID   = 200
	// File names are cut to maxFileName, not refused: a person cannot
	// rename the file a phone sends.
)

// CodeTooLong is the error code of a text over its limit.
const CodeTooLong = "too_long"

// checkLengths refuses the first text over its limit.
func checkLengths(fields ...lengthCheck) error {
	for _, f := range fields {
		if n := utf8.RuneCountInString(f.text); n > f.max {
			return &Error{Kind: KindInvalid, Code: CodeTooLong, Detail: fmt.Sprintf("%s: %d characters, at most %d", f.name, n, f.max)}
		}
	}
	return nil
}

type lengthCheck struct {
	name, text string
	max        int
}
