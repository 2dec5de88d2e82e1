package flows_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/viza-app/viza/flows"
)

func TestCleanFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Договор поставки.pdf", "Договор поставки.pdf"},
		{`..\..\etc/../../passwd`, "passwd"},
		{"/etc/passwd", "passwd"},
		{"a\x00b\nc.pdf", "abc.pdf"},
		{"Договор\u202egp.exe", "Договорgp.exe"},
		{"счёт\u200b\u2066.pdf\u2069", "счёт.pdf"},
		{`"quoted".docx`, "quoted.docx"},
		{"  ", "document"},
		{"..", "document"},
		{"", "document"},
		{strings.Repeat("я", 300) + ".docx", strings.Repeat("я", 195) + ".docx"},
	}
	for _, tc := range tests {
		if got := flows.CleanFileName(tc.in); got != tc.want {
			t.Errorf("CleanFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAllowedFile(t *testing.T) {
	for name, want := range map[string]bool{
		"a.pdf": true, "A.DOCX": true, "scan.JPG": true, "archive.zip": true, "table.xlsx": true,
		"run.exe": false, "page.html": false, "noext": false, "Договор\u202efdp.exe": false, "x.pdf\u202e": true,
	} {
		if got := flows.AllowedFile(name); got != want {
			t.Errorf("AllowedFile(%q) = %v", name, got)
		}
	}
}

// FuzzCleanFileName: whatever a channel hands over, the name kept is a
// plain, bounded, single path element with no control or invisible
// formatting characters.
func FuzzCleanFileName(f *testing.F) {
	for _, s := range []string{"Договор.pdf", `..\..\x`, "a\u202eb.exe", "\x00", strings.Repeat("я", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := flows.CleanFileName(in)
		if out == "" || strings.ContainsAny(out, "/\\\"") || utf8.RuneCountInString(out) > 200 || !utf8.ValidString(out) {
			t.Fatalf("CleanFileName(%q) = %q", in, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("CleanFileName(%q) keeps %U", in, r)
			}
		}
		if again := flows.CleanFileName(out); again != out {
			t.Fatalf("not stable: %q → %q → %q", in, out, again)
		}
	})
}
