package storage

import (
	"strings"
	"sync"
	"testing"
)

// The statement texts are shared by every open database: writers of two
// databases build them at once (run with -race).
func TestRepeatedTextIsSharedSafely(t *testing.T) {
	r := &repeated{head: "SELECT x FROM t WHERE k IN (", part: "?", tail: ")", perPart: 1}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= 32; n++ {
				if got := r.text(n); strings.Count(got, "?") != n || !strings.HasSuffix(got, "?)") {
					t.Errorf("text(%d) = %q", n, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
