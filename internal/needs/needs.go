// Package needs lets a test ask for a program from a Debian package
// (pdftotext, chromium) that a fresh machine may lack. Without it the test
// is skipped with the package to install, so `make test` passes on a new
// machine; with VIZA_TEST_ALL=1 (set by .ci/run, which installs them) a
// missing program fails the test, so CI can never pass by skipping.
package needs

import (
	"os"
	"os/exec"
	"testing"
)

// AllEnv makes every test that needs a program run.
const AllEnv = "VIZA_TEST_ALL"

// Program returns the path of the first of names found, or skips (fails
// under AllEnv) saying which Debian package provides it.
func Program(t testing.TB, debianPackage string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := names[0] + " is missing: apt-get install " + debianPackage
	if os.Getenv(AllEnv) != "" {
		t.Fatal(msg + " (" + AllEnv + " is set, so nothing may be skipped)")
	}
	t.Skip(msg)
	return ""
}

// File returns path (relative to the module's root, found from the test's
// directory) when it exists, or skips (fails under AllEnv) saying which
// command makes it.
func File(t testing.TB, path, makeIt string) string {
	t.Helper()
	for dir := "."; ; dir += "/.." {
		p := dir + "/" + path
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(dir + "/go.mod"); err == nil {
			break // the module's root, and no file there
		}
		if len(dir) > 40 {
			break
		}
	}
	msg := path + " is missing: " + makeIt
	if os.Getenv(AllEnv) != "" {
		t.Fatal(msg + " (" + AllEnv + " is set, so nothing may be skipped)")
	}
	t.Skip(msg)
	return ""
}
