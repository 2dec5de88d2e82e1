package telegram

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/bot/secret"
	"github.com/viza-app/viza/storage"
)

func isNotModified(err error) bool {
	return err != nil && strings.Contains(err.Error(), "message is not modified")
}

// redact keeps the bot token out of an error: it is part of every Bot API
// URL.
func (t *Transport) redact(err error) error { return secret.Redact(err, t.cfg.Token) }

func redact(err error, token string) error { return secret.Redact(err, token) }

// client is the HTTP client for the calls written here (getUpdates, file
// downloads), whose errors would otherwise name the URL with the token.
func (t *Transport) client() *secret.Client {
	return &secret.Client{HTTP: t.httpc, Secrets: []string{t.cfg.Token}}
}

type updatesEnvelope struct {
	OK          bool              `json:"ok"`
	Result      []json.RawMessage `json:"result"`
	ErrorCode   int               `json:"error_code"`
	Description string            `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// getUpdates is written by hand because the library's poller confirms an
// update (by moving the offset) before it has been handled. Its errors
// carry no token: the URL holds it, and an answer may echo it.
func (t *Transport) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, time.Duration, error) {
	raws, wait, err := t.getUpdatesRaw(ctx, offset)
	return raws, wait, t.redact(err)
}

func (t *Transport) getUpdatesRaw(ctx context.Context, offset int64) ([]json.RawMessage, time.Duration, error) {
	body, _ := json.Marshal(map[string]any{"offset": offset, "timeout": int(t.cfg.PollTimeout / time.Second),
		"allowed_updates": []string{"message", "callback_query"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.cfg.APIURL, "/")+"/bot"+t.cfg.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("getUpdates: %w", t.redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client().Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("getUpdates: %w", err)
	}
	defer resp.Body.Close()
	var env updatesEnvelope
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&env); err != nil {
		return nil, 0, fmt.Errorf("getUpdates: decode (HTTP %d): %w", resp.StatusCode, err)
	}
	if !env.OK {
		return nil, time.Duration(env.Parameters.RetryAfter) * time.Second, fmt.Errorf("getUpdates: %d %s", env.ErrorCode, env.Description)
	}
	return env.Result, 0, nil
}

func updateID(raw []byte) (int64, error) {
	var head struct {
		UpdateID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return 0, err
	}
	if head.UpdateID <= 0 {
		return 0, fmt.Errorf("update without update_id")
	}
	return head.UpdateID, nil
}

// pollLoop stores each batch of updates before asking for the next one:
// only the next call's offset confirms them to Telegram, so a crash at any
// point leaves every update either stored or still on Telegram's side.
func (t *Transport) pollLoop(ctx context.Context) error {
	var offset int64
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		asked := time.Now()
		raws, retryAfter, err := t.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait := max(backoff, retryAfter)
			t.log.Warn("getUpdates failed", "err", err, "wait", wait)
			if retryAfter == 0 && backoff >= 2*time.Second {
				// Failing again and again: the Bot API is out of reach, and
				// the channel says so until a poll goes through.
				t.Health.Trouble(err)
			}
			sleep(ctx, wait)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = 500 * time.Millisecond
		t.Health.Fine()
		if len(raws) == 0 {
			// A server that does not hold the poll (a proxy, a Bot API
			// server under load) answers an empty batch at once: asking
			// again at once would be thousands of calls a second.
			if time.Since(asked) < minPoll {
				sleep(ctx, minPoll-time.Since(asked))
			}
			continue
		}
		items := make([]storage.InboxItem, 0, len(raws))
		next := offset
		for _, raw := range raws {
			id, err := updateID(raw)
			if err != nil {
				t.log.Error("update without an id dropped", "err", err)
				continue
			}
			items = append(items, storage.InboxItem{ID: strconv.FormatInt(id, 10), Payload: raw})
			next = max(next, id+1)
		}
		if _, err := t.store.InboxPut(ctx, Name, items); err != nil {
			// Not confirmed: the same updates come again on the next call.
			t.log.Error("store updates", "err", err)
			sleep(ctx, backoff)
			continue
		}
		offset = next
		t.Wake()
	}
	return nil
}

// minPoll is the shortest a poll cycle takes when nothing came.
const minPoll = time.Second

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// WebhookHandler receives updates from Telegram in webhook mode. Unlike the
// library's handler it checks the secret with a real answer (401) and
// answers 200 only once the update is stored, so that Telegram retries
// whatever we failed to keep.
func (t *Transport) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		if t.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(t.cfg.WebhookSecret)) != 1 {
			t.log.Warn("webhook call with a wrong secret ignored", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		id, err := updateID(raw)
		if err != nil {
			t.log.Warn("webhook body is not an update", "err", err)
			http.Error(w, "not an update", http.StatusBadRequest)
			return
		}
		if _, err := t.store.InboxPut(r.Context(), Name, []storage.InboxItem{{ID: strconv.FormatInt(id, 10), Payload: raw}}); err != nil {
			t.log.Error("store webhook update", "update", id, "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		t.Wake()
		w.WriteHeader(http.StatusOK)
	})
}
