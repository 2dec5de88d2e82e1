// Package pdftext reads the text of a PDF with PDFium, the engine of
// Chromium's PDF viewer, compiled to WebAssembly and run by wazero — pure
// Go, no CGO. Simple pure-Go PDF readers garble the Cyrillic of PDFs whose
// fonts map glyphs through ToUnicode (what Word, LibreOffice and fpdf
// write); PDFium reads them as a viewer does.
//
// PDFium is heavy: compiling its 5 MB module takes seconds and hundreds of
// megabytes once, and a hostile PDF may loop. So it never runs inside the
// service: Command starts a child process of the same binary ("viza
// pdf-text") for each PDF, bounded in time and output, with a compilation
// cache on disk that makes a start cost about 0.1 s and 60 MB after the
// first. Serve is that child's side.
package pdftext

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/viza-app/viza/compare/extract"
)

// Limits of one child.
const (
	MaxInput  = 64 << 20 // bytes of PDF read from stdin
	MaxPages  = 3000
	MaxOutput = 32 << 20 // bytes of text written back
)

// result is what the child writes to its stdout.
type result struct {
	Pages []string `json:"pages"`
	Error string   `json:"error,omitzero"`
}

// Serve reads a PDF from in and writes its pages' text to out as JSON.
// cacheDir keeps PDFium's compiled code between runs ("" compiles anew).
func Serve(ctx context.Context, in io.Reader, out io.Writer, cacheDir string) error {
	data, err := io.ReadAll(io.LimitReader(in, MaxInput+1))
	if err != nil {
		return fmt.Errorf("read the pdf: %w", err)
	}
	if len(data) > MaxInput {
		return writeResult(out, result{Error: extract.ReasonTooBig})
	}
	pages, err := Pages(ctx, data, cacheDir)
	if err != nil && err.Error() == extract.ReasonTooBig {
		return writeResult(out, result{Error: extract.ReasonTooBig})
	}
	if err != nil {
		return writeResult(out, result{Error: err.Error()})
	}
	return writeResult(out, result{Pages: pages})
}

func writeResult(out io.Writer, r result) error {
	if err := json.NewEncoder(out).Encode(r); err != nil {
		return fmt.Errorf("write the text: %w", err)
	}
	return nil
}

// Pages opens PDFium in this process and reads every page's text. Only
// the child, the fuzz target and the benchmark call it directly.
func Pages(ctx context.Context, data []byte, cacheDir string) ([]string, error) {
	r, err := Open(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Pages(ctx, data)
}

// Reader is PDFium loaded in this process, to read several PDFs.
type Reader struct {
	pool pdfium.Pool
	inst pdfium.Pdfium
}

// Open loads PDFium; cacheDir keeps its compiled code ("" compiles anew).
func Open(ctx context.Context, cacheDir string) (*Reader, error) {
	rc := wazero.NewRuntimeConfig().
		// No WithCloseOnContextDone: its checks make reading a page three
		// times slower, and the child's deadline is enforced by killing it.
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling)
	if cacheDir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(cacheDir); err == nil {
			rc = rc.WithCompilationCache(cache)
		}
	}
	pool, err := webassembly.Init(webassembly.Config{Context: ctx, MinIdle: 1, MaxIdle: 1, MaxTotal: 1, RuntimeConfig: rc})
	if err != nil {
		return nil, fmt.Errorf("start pdfium: %w", err)
	}
	inst, err := pool.GetInstance(30 * time.Second)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("start pdfium: %w", err)
	}
	return &Reader{pool: pool, inst: inst}, nil
}

// Close unloads PDFium.
func (r *Reader) Close() error {
	r.inst.Close()
	return r.pool.Close()
}

// Pages reads every page's text of one PDF.
func (r *Reader) Pages(ctx context.Context, data []byte) ([]string, error) {
	inst := r.inst
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return nil, fmt.Errorf("count pages: %w", err)
	}
	if count.PageCount > MaxPages {
		return nil, errors.New(extract.ReasonTooBig)
	}
	pages := make([]string, 0, count.PageCount)
	size := 0
	for i := range count.PageCount {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		text, err := pageText(inst, doc.Document, i)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
		size += len(text)
		if size > MaxOutput {
			return nil, errors.New(extract.ReasonTooBig)
		}
		pages = append(pages, text)
	}
	return pages, nil
}

// pageText reads one page's text in one call into the module; the
// library's GetPageText crosses into it once per character, 50× slower.
func pageText(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT, i int) (string, error) {
	tp, err := inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: requests.Page{ByIndex: &requests.PageByIndex{Document: doc, Index: i}}})
	if err != nil {
		return "", err
	}
	defer inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})
	n, err := inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp.TextPage})
	if err != nil || n.Count <= 0 {
		return "", err
	}
	r, err := inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp.TextPage, Count: n.Count})
	if err != nil {
		return "", err
	}
	return r.Text, nil
}

// Command runs the child: Path with Args, the PDF on its stdin, and Env
// as its whole environment.
type Command struct {
	Path    string
	Args    []string
	Env     []string
	Timeout time.Duration
}

// Read runs one child for data and returns its pages. A child that runs
// past the timeout is killed with its whole process group.
func (c Command) Read(ctx context.Context, data []byte) ([]string, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	// The child reads hostile files: it gets none of the service's
	// environment (tokens, the audit key), only what it needs.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}, c.Env...)
	cmd.Stdin = bytes.NewReader(data)
	var stdout, stderr limited
	stdout.max, stderr.max = MaxOutput*2, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, &extract.Failure{Reason: extract.ReasonTimeout, Err: ctx.Err()}
	}
	if err != nil {
		return nil, fmt.Errorf("pdf text: %w (%s)", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("pdf text: read the child's answer: %w", err)
	}
	if r.Error == extract.ReasonTooBig {
		return nil, &extract.Failure{Reason: extract.ReasonTooBig, Err: errors.New("pdf text: too big")}
	}
	if r.Error != "" {
		return nil, fmt.Errorf("pdf text: %s", r.Error)
	}
	return r.Pages, nil
}

// limited keeps at most max bytes and then refuses more.
type limited struct {
	bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.max {
		return 0, errors.New("too much output")
	}
	return l.Buffer.Write(p)
}
