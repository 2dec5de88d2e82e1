package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds viza once per test run, for tests that must SIGKILL it.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "viza-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "viza")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type child struct {
	cmd  *exec.Cmd
	addr chan string
}

// startChild runs the binary on cfgPath with env added to the test's.
func startChild(t *testing.T, cfgPath string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "-config", cfgPath)
	cmd.Env = append(append(os.Environ(), childDatabase(t, cfgPath)...), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, addr: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if os.Getenv("VIZA_TEST_CHILD_LOG") != "" {
				fmt.Fprintln(os.Stderr, sc.Text())
			}
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "viza started" {
				c.addr <- strings.TrimPrefix(fmt.Sprint(line["http"]), "http://")
			}
		}
	}()
	return c
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// record is where a service keeps its record, and the audit key it is
// verified with (hex; "" for audit.key in the data folder).
type record struct {
	loc storage.Location
	key string
}

// prepare creates documents with the engine before the service runs, and
// returns the lawyers' open tasks. The database is the configuration's
// (VIZA_DATABASE_URL, when set, says PostgreSQL).
func prepare(t *testing.T, cfgPath string, docs int) (rec record, tasks []storage.OpenTask) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenStorage(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.DB.Close()
	// As the service would have: the audit key made and the empty chain
	// sealed before anything is recorded.
	if err := m.useAuditKey(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	dir, _ := cfg.Directory()
	eng := flows.NewEngine(m.DB, m.Files, flows.SystemClock{}, nil, dir)
	for i := range docs {
		out, err := eng.Start(context.Background(), flows.StartCmd{Key: fmt.Sprint("prep:", i), Actor: "ivanova", TypeID: "supply",
			Title: fmt.Sprint("Поставка ", i), File: flows.Upload{Name: "d.pdf", Content: strings.NewReader(fmt.Sprint("%PDF ", i))}})
		if err != nil {
			t.Fatal(err)
		}
		open, err := m.DB.OpenTasksOfDocument(context.Background(), out.DocID)
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, open...)
	}
	url, err := databaseURL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return record{loc: storage.Location{DataDir: cfg.DataDir, URL: url}, key: os.Getenv(AuditKeyEnv)}, tasks
}

func writeConfig(t *testing.T, fake *tgfake.Server, mode string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/telegram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("DATA_DIR", filepath.Join(t.TempDir(), "data"), "API_URL", fake.URL, "MODE", mode).Replace(string(src))
	path := filepath.Join(t.TempDir(), "viza.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var users = map[flows.PersonID]tgfake.User{"petrov": petrov, "sidorov": sidorov}

// TestTelegramSurvivesSIGKILL taps every lawyer's task while the service
// is killed with SIGKILL and restarted; afterwards every tap is applied
// exactly once. In webhook mode the test plays Telegram and redelivers
// until it gets a 200.
func TestTelegramSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	for _, mode := range []string{"polling", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			fake := tgfake.New("123456:TEST-token")
			defer fake.Close()
			cfgPath := writeConfig(t, fake, mode)
			rec, tasks := prepare(t, cfgPath, 60)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
			var updates []int64
			for _, tk := range tasks {
				upd, _ := fake.UserTap(users[tk.Assignee], 0, fmt.Sprint("ap:", tk.ID))
				updates = append(updates, upd)
			}
			var mu sync.Mutex
			delivered := map[int64]bool{}
			kills := 0
			for round := 0; round < 6; round++ {
				c := startChild(t, cfgPath, "VIZA_TEST_TG_TOKEN="+fake.Token, "VIZA_TEST_TG_SECRET=s3cret-token")
				var addr string
				select {
				case addr = <-c.addr:
				case <-time.After(wait):
					c.kill()
					t.Fatal("service did not start")
				}
				if mode == "webhook" {
					go func() {
						for _, id := range updates {
							mu.Lock()
							done := delivered[id]
							mu.Unlock()
							if done {
								continue
							}
							req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/telegram/webhook", strings.NewReader(string(fake.Update(id))))
							req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret-token")
							resp, err := http.DefaultClient.Do(req)
							if err != nil {
								return // killed: redeliver next round
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode == http.StatusOK {
								mu.Lock()
								delivered[id] = true
								mu.Unlock()
							}
						}
					}()
				}
				if round < 3 {
					// Kill after some progress, at a random point of it.
					before := rec.approved(tasks)
					tgfake.Until(wait, func() bool { return rec.approved(tasks) > before+rng.IntN(8) })
					time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
					c.kill()
					kills++
					t.Logf("killed in round %d with %d of %d taps applied", round, rec.approved(tasks), len(tasks))
					continue
				}
				// Last round: let it finish, then stop it gently.
				done := tgfake.Until(20*time.Second, func() bool { return rec.approved(tasks) == len(tasks) })
				c.cmd.Process.Signal(syscall.SIGTERM)
				c.cmd.Wait()
				if !done {
					t.Fatalf("after %d kills not every tap was applied", kills)
				}
				break
			}
			rec.eachApprovedOnce(t, tasks)
			t.Logf("%s: %d taps applied exactly once across %d SIGKILLs", mode, len(tasks), kills)
		})
	}
}

// open opens the record as `viza verify` does: with the audit key.
func (r record) open(t *testing.T) *storage.DB {
	t.Helper()
	db, _, err := storage.OpenAt(context.Background(), r.loc)
	if err != nil {
		t.Fatal(err)
	}
	raw := r.key
	if raw == "" {
		b, err := os.ReadFile(filepath.Join(r.loc.DataDir, "audit.key"))
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	key, err := storage.ParseAuditKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.UseAuditKey(context.Background(), key, storage.SealNever); err != nil {
		t.Fatal(err)
	}
	return db
}

// eachApprovedOnce checks the record a killed and restarted service left:
// every task approved exactly once, and the audit chain whole.
func (r record) eachApprovedOnce(t *testing.T, tasks []storage.OpenTask) {
	t.Helper()
	db := r.open(t)
	defer db.Close()
	for _, tk := range tasks {
		d, err := db.Document(context.Background(), tk.DocID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, dc := range d.Decisions {
			if dc.TaskID == tk.ID && dc.Kind == flows.ActionApprove {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("task %d approved %d times", tk.ID, n)
		}
	}
	if rep, err := db.VerifyChain(context.Background()); err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

// approved counts the tasks approved so far.
func (r record) approved(tasks []storage.OpenTask) int {
	db, _, err := storage.OpenAt(context.Background(), r.loc)
	if err != nil {
		return 0
	}
	defer db.Close()
	n := 0
	for _, tk := range tasks {
		d, err := db.Document(context.Background(), tk.DocID)
		if err != nil {
			return 0
		}
		if task, _ := d.Task(tk.ID); task.State == flows.TaskApproved {
			n++
		}
	}
	return n
}
