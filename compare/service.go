package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/flows"
	"golang.org/x/sync/singleflight"
)

// TextStore keeps versions' texts by their files' SHA-256 (storage.DB).
type TextStore interface {
	VersionText(ctx context.Context, sum string) (state string, body []byte, ok bool, err error)
	QueueText(ctx context.Context, sum string) error
	PutVersionText(ctx context.Context, sum, state string, body []byte) error
	PendingTexts(ctx context.Context, limit int) ([]string, error)
	TextAttempts(ctx context.Context, sum string) (int, error)
}

// MaxTextAttempts is how many times a file is taken up before it is
// recorded as failed: one that brought the process down each time.
const MaxTextAttempts = 3

// Service reads versions' texts in the background, keeps them, and
// compares versions.
type Service struct {
	Store     TextStore
	Files     flows.FileStore
	Extractor extract.Extractor
	Log       *slog.Logger
	// Timeout bounds reading one file.
	Timeout time.Duration
	// MaxFile is the largest file read; a bigger one fails as too big.
	MaxFile int64

	flight singleflight.Group
	wg     sync.WaitGroup
	mu     sync.Mutex
	base   context.Context // Run's; extractions started by readers live in it
	texts  map[string]extract.Text
	order  []string
	wake   chan struct{}
}

// keepTexts is how many decoded texts stay in memory: a round's cards go
// to several approvers at once, each comparing the same two versions.
const keepTexts = 16

func (s *Service) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
		s.texts = map[string]extract.Text{}
	}
}

// Wake tells the background job that texts were queued.
func (s *Service) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run reads queued texts until ctx ends, then waits for the extractions
// it started, and for those readers started.
func (s *Service) Run(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.base = ctx
	s.mu.Unlock()
	defer func() {
		// No reader starts an extraction in this context from here on.
		s.mu.Lock()
		s.base = nil
		s.mu.Unlock()
		s.wg.Wait()
	}()
	for {
		for {
			pending, err := s.Store.PendingTexts(ctx, 8)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log().Warn("list the texts to read", "err", err)
				break
			}
			if len(pending) == 0 {
				break
			}
			for _, sum := range pending {
				if n, err := s.Store.TextAttempts(ctx, sum); err == nil && n > MaxTextAttempts {
					s.store(ctx, sum, extract.Text{Status: extract.StatusFailed, Reason: "attempts"})
					continue
				}
				s.extract(ctx, sum)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-time.After(time.Minute):
		}
	}
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// extract reads one file's text and stores it, once at a time per file.
func (s *Service) extract(ctx context.Context, sum string) extract.Text {
	v, _, _ := s.flight.Do(sum, func() (any, error) {
		if t, ok, _ := s.stored(ctx, sum); ok {
			return t, nil
		}
		t := s.read(ctx, sum)
		if ctx.Err() == nil {
			s.store(ctx, sum, t)
		}
		return t, nil
	})
	return v.(extract.Text)
}

func (s *Service) read(ctx context.Context, sum string) extract.Text {
	start := time.Now()
	timeout := s.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, err := s.load(sum)
	if err != nil {
		s.log().Warn("read a version's file for its text", "sha256", sum, "err", err)
		return extract.Text{Status: extract.StatusFailed, Reason: reasonOf(err)}
	}
	t, err := s.Extractor.Extract(ctx, data)
	if err != nil {
		s.log().Warn("comparison unavailable: the version's text could not be read", "sha256", sum, "reason", t.Reason, "err", err)
	} else {
		s.log().Debug("version text read", "sha256", sum, "status", t.Status, "format", t.Format,
			"paragraphs", len(t.Paragraphs), "took", time.Since(start).Round(time.Millisecond))
	}
	return t
}

func reasonOf(err error) string {
	var f *extract.Failure
	if errors.As(err, &f) {
		return f.Reason
	}
	return extract.ReasonDamaged
}

func (s *Service) load(sum string) ([]byte, error) {
	f, err := s.Files.Open(sum)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := s.MaxFile
	if limit == 0 {
		limit = 64 << 20
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &extract.Failure{Reason: extract.ReasonTooBig}
	}
	return data, nil
}

func (s *Service) store(ctx context.Context, sum string, t extract.Text) {
	body, err := json.Marshal(t)
	if err == nil {
		err = s.Store.PutVersionText(ctx, sum, string(t.Status), body)
	}
	if err != nil {
		s.log().Warn("store a version's text", "sha256", sum, "err", err)
		return
	}
	s.remember(sum, t)
}

func (s *Service) remember(sum string, t extract.Text) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.texts[sum]; !ok {
		s.order = append(s.order, sum)
		if len(s.order) > keepTexts {
			delete(s.texts, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.texts[sum] = t
}

// stored returns a file's text if it has been read.
func (s *Service) stored(ctx context.Context, sum string) (extract.Text, bool, error) {
	s.init()
	s.mu.Lock()
	t, ok := s.texts[sum]
	s.mu.Unlock()
	if ok {
		return t, true, nil
	}
	state, body, ok, err := s.Store.VersionText(ctx, sum)
	if err != nil || !ok || state == "pending" {
		return extract.Text{}, false, err
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return extract.Text{}, false, fmt.Errorf("decode the text of %s: %w", sum, err)
	}
	s.remember(sum, t)
	return t, true, nil
}

// Text returns a file's text. Not read yet, it is read now — in the
// background job's context, so that a reader who stops waiting (ctx)
// leaves it to finish and be stored — and a zero Text comes back if ctx
// ends first.
func (s *Service) Text(ctx context.Context, sum string) (extract.Text, error) {
	if ctx.Err() != nil {
		return extract.Text{}, nil // the reader has stopped waiting: pending
	}
	if t, ok, err := s.stored(ctx, sum); ok || err != nil {
		if err != nil && ctx.Err() != nil {
			err = nil
		}
		return t, err
	}
	if err := s.Store.QueueText(ctx, sum); err != nil { // a version from before texts were kept
		return extract.Text{}, err
	}
	s.mu.Lock()
	base := s.base
	if base != nil {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if base == nil {
		// No background job (a command-line tool): read in the caller's.
		return s.extract(ctx, sum), nil
	}
	ch := make(chan extract.Text, 1)
	go func() {
		defer s.wg.Done()
		ch <- s.extract(base, sum) // shared with any other reader of sum
	}()
	select {
	case t := <-ch:
		return t, nil
	case <-ctx.Done():
		return extract.Text{}, nil
	}
}

// Between compares two versions of d. A version still being read when ctx
// ends makes a pending comparison.
func (s *Service) Between(ctx context.Context, d *flows.Document, from, to int, opt Options) (Comparison, error) {
	va, ok := d.Version(from)
	vb, ok2 := d.Version(to)
	if !ok || !ok2 || va.Scan || vb.Scan {
		return Comparison{}, flows.Errorf(flows.KindNotFound, "version_not_found", "versions %d and %d of %s", from, to, d.Number)
	}
	a, err := s.Text(ctx, va.SHA256)
	if err != nil {
		return Comparison{}, err
	}
	b, err := s.Text(ctx, vb.SHA256)
	if err != nil {
		return Comparison{}, err
	}
	return Compare(from, to, a, b, opt), nil
}

// Previous is the version before no that a comparison starts from: the
// last one before it that is not a signed scan. 0 if none.
func Previous(d *flows.Document, no int) int {
	prev := 0
	for _, v := range d.Versions {
		if v.No < no && !v.Scan && v.No > prev {
			prev = v.No
		}
	}
	return prev
}

// Comparer is what the channels need of Service: what changed between
// two versions of a document.
type Comparer interface {
	Between(ctx context.Context, d *flows.Document, from, to int, opt Options) (Comparison, error)
}

var _ Comparer = (*Service)(nil)

// CardWait is how long a request's card waits for what changed; the wait
// runs from the version's upload (at), so a round's many cards, or a card
// sent late, do not each wait again for a text slow to read. A card sent
// after it still reads a comparison already made (minWait).
func CardWait(wait time.Duration, at, now time.Time) time.Duration {
	const minWait = 200 * time.Millisecond
	if at.IsZero() {
		return wait
	}
	return max(min(wait, at.Add(wait).Sub(now)), minWait)
}

// ForCard compares the version a request is about with the one before it,
// waiting at most CardWait; ok is false for a first version.
func ForCard(ctx context.Context, c Comparer, d *flows.Document, version int, wait time.Duration, now time.Time) (Comparison, bool, error) {
	from := Previous(d, version)
	v, ok := d.Version(version)
	if c == nil || from == 0 || !ok {
		return Comparison{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, CardWait(wait, v.At, now))
	defer cancel()
	cmp, err := c.Between(ctx, d, from, version, Options{Context: 4, Bridge: 2})
	return cmp, err == nil, err
}
