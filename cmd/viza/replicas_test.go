package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/storage/storagetest"
)

// replica is one of the service's processes, restarted after each kill.
type replica struct {
	mu   sync.Mutex
	c    *child
	addr string // "" while down
}

func (r *replica) start(t *testing.T, cfgPath string, env []string) {
	t.Helper()
	c := startChild(t, cfgPath, env...)
	select {
	case addr := <-c.addr:
		r.mu.Lock()
		r.c, r.addr = c, addr
		r.mu.Unlock()
	case <-time.After(wait):
		c.kill()
		t.Fatal("replica did not start")
	}
}

func (r *replica) kill() {
	r.mu.Lock()
	c := r.c
	r.addr = ""
	r.mu.Unlock()
	c.kill()
}

func (r *replica) address() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// TestReplicasSurviveSIGKILL runs two replicas on one PostgreSQL database
// behind one address: Telegram's webhook calls land on either. While the
// taps stream in, a replica is killed with SIGKILL and restarted, again
// and again. Afterwards every tap is applied exactly once, the audit chain
// verifies, every notification reached Telegram and almost none twice.
func TestReplicasSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	if !storagetest.Postgres() {
		t.Skip("replicas share a database only on PostgreSQL (VIZA_TEST_BACKEND=postgres)")
	}
	fake := tgfake.New("123456:TEST-token")
	defer fake.Close()
	cfgPath := writeConfig(t, fake, "webhook")
	key := make([]byte, 32)
	_, _ = crand.Read(key)
	t.Setenv("VIZA_DATABASE_URL", storagetest.NewSchema(t))
	t.Setenv(AuditKeyEnv, hex.EncodeToString(key))
	rec, tasks := prepare(t, cfgPath, 16)
	env := []string{"VIZA_TEST_TG_TOKEN=" + fake.Token, "VIZA_TEST_TG_SECRET=s3cret-token"}

	replicas := []*replica{{}, {}}
	for _, r := range replicas {
		r.start(t, cfgPath, env)
	}
	defer func() {
		for _, r := range replicas {
			if r.address() != "" {
				r.c.cmd.Process.Signal(syscall.SIGTERM)
				r.c.cmd.Wait()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	var updates []int64
	for _, tk := range tasks {
		upd, _ := fake.UserTap(users[tk.Assignee], 0, fmt.Sprint("ap:", tk.ID))
		updates = append(updates, upd)
	}

	// Telegram's side: each update is posted to a replica picked at random
	// until one answers 200, as a load balancer in front of both would.
	var posted atomic.Int32
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	telegramDone := make(chan struct{})
	go func() {
		defer close(telegramDone)
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, id := range updates {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				for ctx.Err() == nil {
					mu.Lock()
					r := replicas[rng.IntN(len(replicas))]
					mu.Unlock()
					if deliverUpdate(r.address(), fake.Update(id)) {
						posted.Add(1)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		wg.Wait()
	}()

	kills := 0
	for round := range 6 {
		before := rec.approved(tasks)
		tgfake.Until(wait, func() bool { return rec.approved(tasks) > before+rng.IntN(3) })
		r := replicas[round%len(replicas)]
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		r.kill()
		kills++
		t.Logf("round %d: replica %d killed with %d of %d taps applied", round, round%len(replicas), rec.approved(tasks), len(tasks))
		r.start(t, cfgPath, env)
	}
	if !tgfake.Until(time.Minute, func() bool { return rec.approved(tasks) == len(tasks) }) {
		t.Fatalf("after %d kills %d of %d taps applied", kills, rec.approved(tasks), len(tasks))
	}
	<-telegramDone
	rec.eachApprovedOnce(t, tasks)

	// Every notification reaches Telegram: the outbox empties, the claims
	// of killed replicas going to the living.
	db := rec.open(t)
	defer db.Close()
	drained := tgfake.Until(3*time.Minute, func() bool {
		st, err := db.OutboxStats(context.Background())
		return err == nil && st.Pending == 0
	})
	st, _ := db.OutboxStats(context.Background())
	if !drained || st.Failed != 0 {
		t.Fatalf("outbox after the kills: %+v", st)
	}
	// A message is the same one sent again when a chat gets its text twice.
	sent, dup := 0, 0
	seen := map[string]bool{}
	for _, method := range []string{"sendMessage", "sendDocument"} {
		for _, c := range fake.Calls(method) {
			if c.Status != http.StatusOK {
				continue
			}
			sent++
			k := c.Params["chat_id"] + "\x00" + c.Params["text"] + c.Params["caption"]
			if seen[k] {
				dup++
			}
			seen[k] = true
		}
	}
	// A replica killed between Telegram's answer and the mark "sent"
	// sends that one again: at-least-once delivery. The bound is
	// 0.1% under load; with a kill every few hundred messages, as here,
	// the bound is one message per kill.
	if dup > kills {
		t.Fatalf("%d of %d messages sent twice across %d kills", dup, sent, kills)
	}
	t.Logf("%d taps on two replicas applied once across %d SIGKILLs; %d messages, %d sent twice (%.2f%%)",
		len(tasks), kills, sent, dup, 100*float64(dup)/float64(max(sent, 1)))
}

// deliverUpdate posts one webhook call; it reports whether the replica
// took it.
func deliverUpdate(addr string, update []byte) bool {
	if addr == "" {
		return false
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/telegram/webhook", strings.NewReader(string(update)))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
