// Command vizabench measures decisions per second through the engine with
// durable commits, next to the raw rate of single-row INSERT transactions on
// the same disk with the same pragmas, and prints one JSON line per
// concurrency. `make bench` runs it.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

type result struct {
	Concurrency    int     `json:"concurrency"`
	DecisionsPerS  float64 `json:"decisions_per_s"`
	RawCommitsPerS float64 `json:"raw_commits_per_s"`
	Ratio          float64 `json:"ratio"`
}

func main() {
	dirFlag := flag.String("dir", "", "folder for the databases (default: a temp folder on the working disk)")
	n := flag.Int("n", 4000, "decisions per concurrency level")
	levels := flag.String("c", "1,32", "concurrency levels")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the decision phases")
	memprofile := flag.String("memprofile", "", "write an allocation profile at the end")
	skipRaw := flag.Bool("engine-only", false, "skip the raw INSERT baseline (for profiling the engine)")
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
		res, err := measure(filepath.Join(dir, fmt.Sprint("c", c)), c, *n, *skipRaw)
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

// profile, when set, receives a CPU profile of the decision phases only:
// preparing documents and the raw baseline would drown the engine's cost.
var profile *os.File

func measure(dir string, c, n int, skipRaw bool) (result, error) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "viza.db"))
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
	eng := flows.NewEngine(db, storage.Files{Dir: filepath.Join(dir, "files")}, clock{}, nil, d)
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
	var decided atomic.Int64
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return result{}, err
		}
	}
	start := time.Now()
	err = parallel(c, docs, func(i int) error {
		for _, t := range tasks[i] {
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
	if err != nil {
		return result{}, fmt.Errorf("decide: %w", err)
	}
	decRate := float64(decided.Load()) / time.Since(start).Seconds()
	if profile != nil {
		pprof.StopCPUProfile()
	}
	if skipRaw {
		return result{Concurrency: c, DecisionsPerS: round(decRate)}, nil
	}
	// The disk's commit rate drifts from second to second; the median of
	// three runs is a steadier baseline than one.
	var raws []float64
	for i := range 3 {
		r, err := rawCommits(ctx, filepath.Join(dir, fmt.Sprint("raw", i, ".db")), c, n)
		if err != nil {
			return result{}, err
		}
		raws = append(raws, r)
	}
	slices.Sort(raws)
	raw := raws[1]
	return result{Concurrency: c, DecisionsPerS: round(decRate), RawCommitsPerS: round(raw), Ratio: round(decRate / raw)}, nil
}

// rawCommits is the baseline: single-row INSERT transactions through one
// writer connection with the same DSN, from c goroutines.
func rawCommits(ctx context.Context, path string, c, n int) (float64, error) {
	db, err := sql.Open("sqlite", storage.DSN(path, false))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		return 0, err
	}
	start := time.Now()
	err = parallel(c, n, func(i int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO raw(v) VALUES (?)`, fmt.Sprint("row ", i)); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	return float64(n) / time.Since(start).Seconds(), err
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
