package email_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/email"
	"github.com/viza-app/viza/stats"
)

// TestDigest: on a working day at the configured time each person with
// something to report gets one mail — their open tasks, overdue first —
// and viewers and managers the documents that have not moved; a second
// run the same day, or a restarted process, queues nothing more; nothing
// before the time, nothing on a day off.
func TestDigest(t *testing.T) {
	r := newRig(t)
	msk := r.Dir.Location
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	newDigest := func() *email.Digest {
		return &email.Digest{At: "09:00", Channel: r.ch, Announce: r.Engine.Announce, Directory: r.Engine.Directory, Log: quiet}
	}
	// Monday 30.11, 10:00: the first contract (deadline 8 working hours:
	// Tuesday 10:00); Wednesday 10:00 the second, due Thursday.
	old := r.start(t, "s1", "Старый договор")
	r.Clock.Set(time.Date(2026, 12, 2, 10, 0, 0, 0, msk))
	fresh := r.start(t, "s2", "Новый договор")
	r.step(t)
	sent := len(r.smtp.Messages())

	g := newDigest()
	steps := []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 12, 5, 9, 30, 0, 0, msk), 0}, // Saturday
		{time.Date(2026, 12, 7, 8, 59, 0, 0, msk), 0}, // Monday, before nine
	}
	for _, s := range steps {
		r.Clock.Set(s.at)
		if n, err := g.Step(r.ctx); err != nil || n != s.want {
			t.Fatalf("at %v queued %d, %v; want %d", s.at, n, err, s.want)
		}
	}
	r.Clock.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, msk))
	n, err := g.Step(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// petrov and sidorov hold both contracts; petrov, kuznetsova and the
	// director are viewers (management) and petrov also manages sidorov
	// and ivanova; ivanova holds nothing and manages nobody.
	if n != 4 {
		t.Fatalf("queued %d digests, want 4 (petrov, sidorov, kuznetsova, director)", n)
	}
	if again, err := g.Step(r.ctx); err != nil || again != 0 {
		t.Fatalf("second run the same day queued %d, %v", again, err)
	}
	if _, err := newDigest().Step(r.ctx); err != nil { // a restarted process
		t.Fatal(err)
	}
	r.step(t)
	digests := map[string]parsed{}
	for _, m := range r.smtp.Messages()[sent:] {
		p := parse(t, m.Data)
		if !strings.HasPrefix(p.subject, "Viza") {
			continue
		}
		if _, dup := digests[m.To[0]]; dup {
			t.Fatalf("%s got two digests", m.To[0])
		}
		digests[m.To[0]] = p
	}
	if len(digests) != 4 {
		t.Fatalf("%d digests delivered, want 4: %v", len(digests), digests)
	}
	sid := digests["sidorov@romashka.example"]
	if sid.subject != "Viza: сводка на 07.12.2026" {
		t.Errorf("subject %q", sid.subject)
	}
	oldAt, freshAt := strings.Index(sid.text, old.Number), strings.Index(sid.text, fresh.Number)
	if oldAt < 0 || freshAt < 0 || oldAt > freshAt {
		t.Errorf("sidorov's tasks not both listed, overdue first:\n%s", sid.text)
	}
	if !strings.Contains(sid.text, "просрочено") || !strings.Contains(sid.text, "https://viza.romashka.example/t/link-sidorov") {
		t.Errorf("sidorov's digest lacks the overdue mark or the one-tap link:\n%s", sid.text)
	}
	if strings.Contains(sid.text, "Без движения") {
		t.Errorf("sidorov manages nobody and is no viewer, yet sees stuck documents:\n%s", sid.text)
	}
	kuz := digests["k.kuznetsova@romashka.example"]
	// The old contract has waited since Monday 30.11: more than three
	// working days; the fresh one since Wednesday: less.
	if !strings.Contains(kuz.text, "Без движения дольше 3 раб. дн. (1)") || !strings.Contains(kuz.text, old.Number) || strings.Contains(kuz.text, fresh.Number) {
		t.Errorf("kuznetsova's digest should list only the old contract as stuck:\n%s", kuz.text)
	}
	if !strings.Contains(kuz.html, "<b>Без движения") {
		t.Errorf("HTML digest lacks its heading:\n%s", kuz.html)
	}

	// The next working day it comes again.
	r.Clock.Set(time.Date(2026, 12, 8, 9, 5, 0, 0, msk))
	if n, err := g.Step(r.ctx); err != nil || n == 0 {
		t.Fatalf("Tuesday queued %d, %v", n, err)
	}
}

// TestDigestMondayChart: on Mondays a manager's digest carries a chart of
// where their people's documents wait, inside the mail and shown by the
// HTML part; an approver who manages nobody gets none, nor does anyone on
// another day.
func TestDigestMondayChart(t *testing.T) {
	r := newRig(t)
	r.ch.Stats = &stats.Service{Source: r.DB, Dir: r.Engine.Directory, Clock: r.Clock}
	msk := r.Dir.Location
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.start(t, "s1", "Старый договор")
	r.step(t)
	for _, day := range []struct {
		at    time.Time
		chart bool
	}{{time.Date(2026, 12, 7, 9, 0, 0, 0, msk), true}, {time.Date(2026, 12, 8, 9, 0, 0, 0, msk), false}} {
		sent := len(r.smtp.Messages())
		r.Clock.Set(day.at)
		g := &email.Digest{At: "09:00", Channel: r.ch, Announce: r.Engine.Announce, Directory: r.Engine.Directory, Log: quiet}
		if _, err := g.Step(r.ctx); err != nil {
			t.Fatal(err)
		}
		r.step(t)
		got := map[string]parsed{}
		for _, m := range r.smtp.Messages()[sent:] {
			if p := parse(t, m.Data); strings.HasPrefix(p.subject, "Viza") {
				got[m.To[0]] = p
			}
		}
		petrov, sidorov := got["petrov@romashka.example"], got["sidorov@romashka.example"]
		if petrov.subject == "" || sidorov.subject == "" {
			t.Fatalf("%v: digests to %v", day.at, got)
		}
		img, has := petrov.inline["waiting.png"]
		if has != day.chart || (has && (img.Type != "image/png" || !bytes.HasPrefix(img.Data, []byte("\x89PNG")) ||
			!strings.Contains(petrov.html, `src="cid:waiting.png"`))) {
			t.Errorf("%v: petrov's chart %v (%s), html has cid: %v", day.at, has, img.Type, strings.Contains(petrov.html, "cid:"))
		}
		if _, has := sidorov.inline["waiting.png"]; has {
			t.Errorf("%v: sidorov, who manages nobody, got a chart", day.at)
		}
	}
}
