package flows

import (
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// allowedExt are the formats people approve: office documents, PDFs,
// scans and archives of them. One list for every channel.
var allowedExt = []string{".pdf", ".doc", ".docx", ".xls", ".xlsx", ".odt", ".rtf", ".txt", ".jpg", ".jpeg", ".png", ".zip"}

// maxFileName bounds a file name, in characters.
const maxFileName = 200

// CleanFileName is the one policy for the names of files people send,
// whatever the channel: the last part of a path only; no control
// characters and no invisible formatting ones (U+202E and the other
// bidirectional overrides turn "contract‮fdp.exe" into what reads as
// "contractexe.pdf"); no quotes; at most 200 characters, keeping the
// extension; "document" when nothing is left.
func CleanFileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '"', r == utf8.RuneError:
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > maxFileName {
		ext := path.Ext(name)
		if utf8.RuneCountInString(ext) > 10 {
			ext = ""
		}
		name = strings.TrimSpace(string([]rune(strings.TrimSuffix(name, ext))[:maxFileName-utf8.RuneCountInString(ext)]) + ext)
	}
	if name == "" || name == "." || name == "/" || name == ".." {
		return "document"
	}
	return name
}

// AllowedFile reports whether a file of this name is a format people
// approve (see allowedExt), judged on its cleaned name.
func AllowedFile(name string) bool {
	return slices.Contains(allowedExt, strings.ToLower(path.Ext(CleanFileName(name))))
}
