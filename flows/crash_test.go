package flows_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestCrashChild is the engine process of TestCrashSafety; it does nothing
// unless started by it. It reads "task key actor" lines, decides, and
// prints "ack key" only after the decision is committed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("VIZA_CRASH_DIR")
	if dir == "" {
		t.Skip("only runs as the child of TestCrashSafety")
	}
	ctx := context.Background()
	db, files, err := storage.OpenAt(ctx, storage.Location{DataDir: dir, URL: os.Getenv("VIZA_CRASH_URL")})
	if err != nil {
		fmt.Println("fatal", err)
		os.Exit(3)
	}
	d, _ := testDirectory(t)
	eng := flows.NewEngine(db, files, &flowstest.Clock{}, nil, d)
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	for in.Scan() {
		f := strings.Fields(in.Text())
		task, _ := strconv.ParseInt(f[0], 10, 64)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := eng.Decide(ctx, flows.DecideCmd{Key: f[1], Actor: flows.PersonID(f[2]), TaskID: task, Action: flows.ActionApprove})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				fmt.Fprintln(out, "ack", f[1])
			} else {
				fmt.Fprintln(out, "err", f[1], flows.ErrorCode(err))
			}
			out.Flush()
		}()
	}
	wg.Wait()
	db.Close()
}

type crashCmd struct {
	task  int64
	key   string
	actor string
}

func TestCrashSafety(t *testing.T) {
	if os.Getenv("VIZA_CRASH_DIR") != "" {
		t.Skip("child")
	}
	rounds := crashRounds()
	loc := storagetest.NewLocation(t)
	ctx := context.Background()
	cmds := prepareCrash(t, loc, rounds*150+300)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := map[string]crashCmd{}
	pending := cmds
	interrupted := 0
	for round := 0; round < rounds && len(pending) > 0; round++ {
		got := runCrashChild(t, loc, pending, time.Duration(5+rng.IntN(40))*time.Millisecond)
		if len(got) < len(pending) {
			interrupted++
		}
		var rest []crashCmd
		for _, c := range pending {
			if v, ok := got[c.key]; ok && v == "ack" {
				acked[c.key] = c
			} else if !ok {
				rest = append(rest, c)
			}
		}
		pending = rest
	}
	if len(acked) == 0 || interrupted == 0 {
		t.Fatalf("%d acknowledged, %d rounds killed mid-stream: the test proved nothing", len(acked), interrupted)
	}
	db, _, err := storage.OpenAt(ctx, loc)
	if err != nil {
		t.Fatalf("reopen after kills: %v", err)
	}
	defer db.Close()
	for key, c := range acked {
		d, err := db.DocumentOfTask(ctx, c.task)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, dc := range d.Decisions {
			found = found || (dc.TaskID == c.task && dc.Kind == flows.ActionApprove)
		}
		if !found {
			t.Fatalf("acknowledged decision %s on task %d is lost", key, c.task)
		}
	}
	rep, err := db.VerifyChain(ctx)
	if err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain after kills: %+v %v", rep, err)
	}
	if res, err := db.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
	t.Logf("%d rounds (%d killed mid-stream), %d decisions acknowledged and found, chain of %d events intact", rounds, interrupted, len(acked), rep.Events)
}

// runCrashChild streams cmds to a child engine, SIGKILLs it after killAfter
// and returns what it answered before dying. With killAfter 0 the child is
// left to answer everything and exit.
func runCrashChild(t *testing.T, loc storage.Location, cmds []crashCmd, killAfter time.Duration) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VIZA_CRASH_DIR="+loc.DataDir, "VIZA_CRASH_URL="+loc.URL)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	go func() {
		for _, c := range cmds {
			if _, err := fmt.Fprintf(stdin, "%d %s %s\n", c.task, c.key, c.actor); err != nil {
				return
			}
		}
		if killAfter == 0 {
			stdin.Close()
		}
	}()
	kill := func() { cmd.Process.Signal(syscall.SIGKILL) }
	if killAfter > 0 {
		// A child that never answers is killed all the same.
		hard := time.AfterFunc(time.Minute, kill)
		defer hard.Stop()
	}
	started := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "ack" || f[0] == "err") {
			answers[f[1]] = f[0]
			if !started && killAfter > 0 {
				// Counted from the first answer, so that the kill comes
				// mid-stream however slow a loaded machine is to start
				// one (counted from "ready", it came before any answer).
				started = true
				time.AfterFunc(killAfter, kill)
			}
		}
	}
	cmd.Wait()
	return answers
}

// TestCrashSafetyTwoReplicas: two engine processes on one PostgreSQL
// database are sent every command — as a platform's retry or a load
// balancer would send a tap to both — while one of them is killed with
// SIGKILL mid-stream, round after round, the other living through the
// round. Every acknowledged decision is stored, each exactly once; the
// audit chain verifies.
func TestCrashSafetyTwoReplicas(t *testing.T) {
	if os.Getenv("VIZA_CRASH_DIR") != "" {
		t.Skip("child")
	}
	if !storagetest.Postgres() {
		t.Skip("two processes share a database only on PostgreSQL")
	}
	rounds := crashRounds()
	loc := storagetest.NewLocation(t)
	ctx := context.Background()
	cmds := prepareCrash(t, loc, rounds*200)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	acked := map[string]crashCmd{}
	interrupted := 0
	for round := range rounds {
		batch := cmds[round*len(cmds)/rounds : (round+1)*len(cmds)/rounds]
		answers := make([]map[string]string, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			killAfter := time.Duration(0) // the survivor
			if i == round%2 {
				killAfter = time.Duration(5+rng.IntN(60)) * time.Millisecond
			}
			wg.Go(func() { answers[i] = runCrashChild(t, loc, batch, killAfter) })
		}
		wg.Wait()
		if len(answers[round%2]) < len(batch) {
			interrupted++
		}
		for _, c := range batch {
			for _, a := range answers {
				if a[c.key] == "ack" {
					acked[c.key] = c
				}
			}
		}
	}
	if len(acked) == 0 || interrupted == 0 {
		t.Fatalf("%d acknowledged, %d rounds killed mid-stream: the test proved nothing", len(acked), interrupted)
	}
	db, _, err := storage.OpenAt(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for key, c := range acked {
		d, err := db.DocumentOfTask(ctx, c.task)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, dc := range d.Decisions {
			if dc.TaskID == c.task && dc.Kind == flows.ActionApprove {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("acknowledged decision %s on task %d is stored %d times", key, c.task, n)
		}
	}
	rep, err := db.VerifyChain(ctx)
	if err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain after kills: %+v %v", rep, err)
	}
	t.Logf("%d rounds (%d killed mid-stream), %d of %d decisions acknowledged, each stored once; chain of %d events intact",
		rounds, interrupted, len(acked), len(cmds), rep.Events)
}

// crashRounds is how many rounds a crash test runs: VIZA_CRASH_ROUNDS
// (make stress), else 3.
func crashRounds() int {
	if n, err := strconv.Atoi(os.Getenv("VIZA_CRASH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// prepareCrash starts memos at loc, each waiting on three approvers at
// once, and returns n of their open tasks as approvals to send.
func prepareCrash(t *testing.T, loc storage.Location, n int) []crashCmd {
	t.Helper()
	ctx := context.Background()
	db, files, err := storage.OpenAt(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, db: db, clock: &flowstest.Clock{}}
	h.dir, _ = testDirectory(t)
	h.eng = flows.NewEngine(db, files, h.clock, nil, h.dir)
	var cmds []crashCmd
	for len(cmds) < n {
		out, err := h.eng.Start(ctx, flows.StartCmd{Key: h.key(), Actor: "ivanova", TypeID: "memo", Title: "t", File: file(h.key()),
			Approvers: []flows.PersonID{"belova", "chernov", "zaitsev"}, Parallel: true})
		h.must(err)
		for _, tk := range h.doc(out.DocID).OpenTasks() {
			if len(cmds) < n {
				cmds = append(cmds, crashCmd{task: tk.ID, key: fmt.Sprintf("crash:%d", tk.ID), actor: string(tk.Assignee)})
			}
		}
	}
	h.must(db.Close())
	return cmds
}
