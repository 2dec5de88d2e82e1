// Command vizabench measures decisions per second through the engine with
// durable commits, next to the raw rate of single-row INSERT transactions on
// the same disk with the same pragmas, and prints one JSON line per
// concurrency. With -postgres it does the same on a PostgreSQL server: the
// engine in a schema of its own, the raw commits through a pool of as many
// connections as there are callers. `make bench` runs both.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

type result struct {
	Backend        string  `json:"backend"`
	Concurrency    int     `json:"concurrency"`
	DecisionsPerS  float64 `json:"decisions_per_s"`
	RawCommitsPerS float64 `json:"raw_commits_per_s"`
	Ratio          float64 `json:"ratio"`
}

func main() {
	dirFlag := flag.String("dir", "", "folder for the databases (default: a temp folder on the working disk)")
	n := flag.Int("n", 4000, "decisions per concurrency level")
	levels := flag.String("c", "1,32", "concurrency levels")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured phases (with -engine-only: of the decisions alone)")
	memprofile := flag.String("memprofile", "", "write an allocation profile at the end")
	skipRaw := flag.Bool("engine-only", false, "skip the raw INSERT baseline (for profiling the engine)")
	pgURL := flag.String("postgres", "", "measure on this PostgreSQL server (postgres://…) instead of SQLite")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		profile = f
	}
	dir := *dirFlag
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp(".", ".vizabench-"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				log.Fatal(err)
			}
		}()
	}
	for _, l := range strings.Split(*levels, ",") {
		var c int
		fmt.Sscan(l, &c)
		var on target = sqliteTarget(filepath.Join(dir, fmt.Sprint("c", c)))
		if *pgURL != "" {
			on = postgresTarget(*pgURL, c)
		}
		res, err := measure(on, c, *n, *skipRaw)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
}

type clock struct{}

func (clock) Now() time.Time { return time.Now() }

const approversPerDoc = 5

// profile, when set, receives a CPU profile of the measured phases, not of
// preparing the documents.
var profile *os.File

// target is where a measurement runs: the engine's database and the raw
// commits' table beside it.
type target struct {
	backend  string
	open     func(context.Context) (*storage.DB, flows.FileStore, error)
	baseline func(context.Context) (*baseline, error)
	cleanup  func()
}

func sqliteTarget(dir string) target {
	return target{backend: "sqlite",
		open: func(ctx context.Context) (*storage.DB, flows.FileStore, error) {
			return storage.OpenAt(ctx, storage.Location{DataDir: dir})
		},
		baseline: func(ctx context.Context) (*baseline, error) {
			db, err := sql.Open("sqlite", storage.DSN(filepath.Join(dir, "raw.db"), false))
			if err != nil {
				return nil, err
			}
			db.SetMaxOpenConns(1)
			return newBaseline(ctx, db, `CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO raw(id, v) VALUES (?, ?)`)
		},
		cleanup: func() {}}
}

// postgresTarget measures in a schema made for the run and dropped after.
func postgresTarget(url string, c int) target {
	schema := fmt.Sprintf("vizabench_%d", time.Now().UnixNano())
	inSchema := url
	if u, err := neturl.Parse(url); err == nil {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		inSchema = u.String()
	}
	admin := func(q string) error {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.Exec(q)
		return err
	}
	return target{backend: "postgres",
		open: func(ctx context.Context) (*storage.DB, flows.FileStore, error) {
			if err := admin(`CREATE SCHEMA ` + schema); err != nil {
				return nil, nil, fmt.Errorf("create schema: %w", err)
			}
			return storage.OpenAt(ctx, storage.Location{URL: inSchema})
		},
		baseline: func(ctx context.Context) (*baseline, error) {
			db, err := sql.Open("pgx", inSchema)
			if err != nil {
				return nil, err
			}
			db.SetMaxOpenConns(c)
			db.SetMaxIdleConns(c)
			return newBaseline(ctx, db, `CREATE TABLE IF NOT EXISTS raw (id BIGINT PRIMARY KEY, v TEXT)`, `INSERT INTO raw(id, v) VALUES ($1, $2)`)
		},
		cleanup: func() {
			if err := admin(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
				log.Printf("drop schema %s: %v", schema, err)
			}
		}}
}

func measure(on target, c, n int, skipRaw bool) (result, error) {
	ctx := context.Background()
	defer on.cleanup()
	db, files, err := on.open(ctx)
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	cfg, err := config.Demo()
	if err != nil {
		return result{}, err
	}
	d, err := cfg.Directory()
	if err != nil {
		return result{}, err
	}
	eng := flows.NewEngine(db, files, clock{}, nil, d)
	// Each document waits on five people at once; every decision is a real
	// one (it closes a task, tells the initiator, and the fifth approves the
	// document), and the task ids are known before the clock starts.
	people := []flows.PersonID{"petrov", "sidorov", "kuznetsova", "director", "ivanova"}
	docs := (n + approversPerDoc - 1) / approversPerDoc
	var keys atomic.Int64
	tasks := make([][]storage.OpenTask, docs)
	if err := parallel(min(c, 32), docs, func(i int) error {
		out, err := eng.Start(ctx, flows.StartCmd{Key: fmt.Sprint("s", keys.Add(1)), Actor: "ivanova", TypeID: "memo", Title: "bench",
			File: flows.Upload{Name: "x.txt", Content: strings.NewReader(fmt.Sprint("doc ", i))}, Approvers: people, Parallel: true})
		if err != nil {
			return err
		}
		tasks[i], err = db.OpenTasksOfDocument(ctx, out.DocID)
		return err
	}); err != nil {
		return result{}, fmt.Errorf("prepare: %w", err)
	}
	var raw *baseline
	if !skipRaw {
		if raw, err = on.baseline(ctx); err != nil {
			return result{}, err
		}
		defer raw.db.Close()
		// The engine's database has a full-sized WAL by now (preparing the
		// documents wrote it); the baseline's gets one the same way.
		if _, err := raw.commits(ctx, c, n/phases); err != nil {
			return result{}, err
		}
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}
	// Raw commits and decisions take turns, a quarter of each at a time:
	// this disk's commit rate drifts by a third from one second to the
	// next, and two rates measured seconds apart would carry that drift
	// into their ratio.
	var decided atomic.Int64
	var decTime, rawTime time.Duration
	rawDone := 0
	for p := range phases {
		if raw != nil {
			took, err := raw.commits(ctx, c, n/phases)
			if err != nil {
				return result{}, err
			}
			rawTime += took
			rawDone += n / phases
		}
		lo, hi := docs*p/phases, docs*(p+1)/phases
		start := time.Now()
		err = parallel(c, hi-lo, func(i int) error {
			for _, t := range tasks[lo+i] {
				if decided.Load() >= int64(n) {
					return nil
				}
				if _, err := eng.Decide(ctx, flows.DecideCmd{Key: fmt.Sprint("d", keys.Add(1)), Actor: t.Assignee, TaskID: t.ID, Action: flows.ActionApprove}); err != nil {
					return err
				}
				decided.Add(1)
			}
			return nil
		})
		decTime += time.Since(start)
		if err != nil {
			return result{}, fmt.Errorf("decide: %w", err)
		}
	}
	decRate := float64(decided.Load()) / decTime.Seconds()
	if raw == nil {
		return result{Backend: on.backend, Concurrency: c, DecisionsPerS: round(decRate)}, nil
	}
	rawRate := float64(rawDone) / rawTime.Seconds()
	return result{Backend: on.backend, Concurrency: c, DecisionsPerS: round(decRate), RawCommitsPerS: round(rawRate), Ratio: round(decRate / rawRate)}, nil
}

// phases is how many turns raw commits and decisions take.
const phases = 4

// baseline is the raw rate's database: single-row INSERT transactions —
// on SQLite through one writer connection with the same DSN as the
// engine's, on PostgreSQL through a pool.
type baseline struct {
	db     *sql.DB
	insert string // in the driver's placeholders
	row    atomic.Int64
}

func newBaseline(ctx context.Context, db *sql.DB, create, insert string) (*baseline, error) {
	if _, err := db.ExecContext(ctx, create); err != nil {
		db.Close()
		return nil, err
	}
	return &baseline{db: db, insert: insert}, nil
}

// commits runs n single-row INSERT transactions from c goroutines and
// returns how long they took.
func (b *baseline) commits(ctx context.Context, c, n int) (time.Duration, error) {
	start := time.Now()
	err := parallel(c, n, func(int) error {
		tx, err := b.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		id := b.row.Add(1)
		if _, err := tx.ExecContext(ctx, b.insert, id, fmt.Sprint("row ", id)); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	return time.Since(start), err
}

// parallel runs f(0..n-1) on c workers and returns the first error.
func parallel(c, n int, f func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func round(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
