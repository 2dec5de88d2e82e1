package telegram

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/storage"
)

// TestPollWaitsAfterAnEmptyAnswerAtOnce: a Bot API (or a proxy before it)
// that answers getUpdates with nothing at once, instead of holding the long
// poll, is asked about once a second, not thousands of times.
func TestPollWaitsAfterAnEmptyAnswerAtOnce(t *testing.T) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/getUpdates") {
			polls.Add(1)
		}
		io.WriteString(w, `{"ok":true,"result":[]}`)
	}))
	defer srv.Close()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "viza.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr, err := New(context.Background(), Config{Token: "1:test", APIURL: srv.URL, Mode: "polling"}, db, "ru", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if err := tr.pollLoop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := polls.Load(); n < 2 || n > 4 {
		t.Fatalf("%d polls in 2.5 s against a server that does not hold them", n)
	}
}
