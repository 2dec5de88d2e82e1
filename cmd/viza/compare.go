package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/pdftext"
)

// PDF text is read by a child process of this same binary (see package
// pdftext): these variables make a started binary that child.
const (
	pdfChildEnv = "VIZA_PDF_CHILD"
	pdfCacheEnv = "VIZA_PDF_CACHE"
	// pdfiumCacheEnv names a folder for PDFium's compiled code instead of
	// data_dir/cache/pdfium.
	pdfiumCacheEnv = "VIZA_PDFIUM_CACHE"
)

// pdfChild runs this process as the PDF child when its environment says
// so; it never returns then.
func pdfChild(stdin io.Reader, stdout, stderr io.Writer) {
	if os.Getenv(pdfChildEnv) != "1" {
		return
	}
	if err := pdftext.Serve(context.Background(), stdin, stdout, os.Getenv(pdfCacheEnv)); err != nil {
		fmt.Fprintln(stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// newCompare builds the service that reads versions' texts and compares
// them. PDFium's compiled code is cached under the data folder, so that
// only the first PDF after an upgrade pays for compiling it.
func (m *Main) newCompare() *compare.Service {
	ex := extract.Extractor{}
	if exe, err := os.Executable(); err != nil {
		m.Log.Warn("PDFs will not be compared: the service cannot find its own binary", "err", err)
	} else {
		cache := filepath.Join(m.Config.DataDir, "cache", "pdfium")
		if shared := os.Getenv(pdfiumCacheEnv); shared != "" {
			cache = shared // one cache for several instances (and the tests)
		}
		ex.PDF = pdftext.Command{Path: exe, Args: []string{"pdf-text"}, Timeout: time.Minute,
			Env: []string{pdfChildEnv + "=1", pdfCacheEnv + "=" + cache}}.Read
	}
	return &compare.Service{Store: m.DB, Files: m.Files, Extractor: ex, Log: m.Log, Timeout: 90 * time.Second}
}
