package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

// A registry of a hundred thousand documents takes seconds to write. The
// dashboard starts it as a job and shows its progress; the file waits for
// its owner a while, then goes.

// exportKeep is how long a finished export waits to be downloaded.
const exportKeep = 15 * time.Minute

type exportJob struct {
	id      string
	owner   flows.PersonID
	total   int
	started time.Time

	mu   sync.Mutex
	done int
	path string // the file, once written
	err  error
}

func (j *exportJob) state() (done int, path string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done, j.path, j.err
}

type exportJobs struct {
	mu     sync.Mutex
	jobs   map[string]*exportJob
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// Shutdown stops exports under way and removes their files; it returns
// when none is running.
func (s *Server) Shutdown() {
	if s.exports.cancel != nil {
		s.exports.cancel()
	}
	s.exports.wg.Wait()
	s.exports.mu.Lock()
	defer s.exports.mu.Unlock()
	for id, j := range s.exports.jobs {
		if _, path, _ := j.state(); path != "" {
			os.Remove(path)
		}
		delete(s.exports.jobs, id)
	}
}

// startExport begins writing the registry the person may read.
func (s *Server) startExport(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	reader := p.ID
	if s.Engine.Directory().IsViewer(p.ID) {
		reader = ""
	}
	total, err := s.Store.CountDocuments(r.Context(), storage.DocQuery{Reader: reader})
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	ex := &s.exports
	ex.mu.Lock()
	for _, j := range ex.jobs {
		if _, path, err := j.state(); j.owner == p.ID && path == "" && err == nil {
			// One at a time per person: a second click follows the first.
			ex.mu.Unlock()
			http.Redirect(w, r, "/export/"+j.id, http.StatusSeeOther)
			return
		}
	}
	job := &exportJob{id: hashToken(fmt.Sprint(p.ID, time.Now().UnixNano(), randomBytes(8)))[:24], owner: p.ID, total: total, started: time.Now()}
	ex.jobs[job.id] = job
	ex.wg.Add(1)
	ex.mu.Unlock()
	lang := s.lang(p)
	go func() {
		defer ex.wg.Done()
		path, err := s.writeExport(ex.ctx, reader, lang, job)
		job.mu.Lock()
		job.path, job.err = path, err
		job.mu.Unlock()
		if err != nil {
			s.Log.Error("registry export failed", "person", p.ID, "err", err)
		} else {
			s.Log.Info("registry exported", "person", p.ID, "rows", job.done, "took", time.Since(job.started).Round(time.Millisecond))
		}
		// The file waits for its owner, then goes.
		t := time.NewTimer(exportKeep)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ex.ctx.Done():
		}
		ex.mu.Lock()
		delete(ex.jobs, job.id)
		ex.mu.Unlock()
		if path != "" {
			os.Remove(path)
		}
	}()
	http.Redirect(w, r, "/export/"+job.id, http.StatusSeeOther)
}

func (s *Server) writeExport(ctx context.Context, reader flows.PersonID, lang string, job *exportJob) (string, error) {
	f, err := os.CreateTemp("", "viza-registry-*.xlsx")
	if err != nil {
		return "", err
	}
	progress := func(done int) {
		job.mu.Lock()
		job.done = done
		job.mu.Unlock()
	}
	if _, err := s.Reports.Registry(ctx, reader, lang, false, f, progress); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// job finds a job of the person's.
func (s *Server) job(r *http.Request, p *flows.Person) *exportJob {
	s.exports.mu.Lock()
	defer s.exports.mu.Unlock()
	if j := s.exports.jobs[r.PathValue("id")]; j != nil && j.owner == p.ID {
		return j
	}
	return nil
}

type exportView struct {
	ID          string
	Done, Total int
	Percent     int
	Ready       bool
}

func (s *Server) exportPage(w http.ResponseWriter, r *http.Request, p *flows.Person, scope string) {
	j := s.job(r, p)
	if j == nil {
		s.fail(w, p, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "link_expired", "export %s", r.PathValue("id")))
		return
	}
	done, path, err := j.state()
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	v := exportView{ID: j.id, Done: done, Total: j.total, Ready: path != ""}
	if j.total > 0 {
		v.Percent = min(100, done*100/j.total)
	}
	s.render(w, http.StatusOK, "export.html", page{Person: p, CSRF: s.csrf(scope), Data: v})
}

func (s *Server) exportFile(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	j := s.job(r, p)
	var path string
	if j != nil {
		_, path, _ = j.state()
	}
	if path == "" {
		s.fail(w, p, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "link_expired", "export %s", r.PathValue("id")))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.fail(w, p, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "link_expired", "export %s: %v", j.id, err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="registry.xlsx"`)
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	if _, err := io.Copy(w, f); err != nil {
		s.Log.Warn("registry download cut short", "err", err)
	}
}
