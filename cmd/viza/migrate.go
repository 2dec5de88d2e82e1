package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/viza-app/viza/storage"
)

// migrateCommand copies a SQLite database and its files into an empty
// PostgreSQL database (viza migrate), then verifies the copy's audit chain
// with the company's audit key, as `viza verify` would on it.
func migrateCommand(ctx context.Context, o options, stdout, stderr io.Writer) int {
	cfg, _, err := loadConfig(o.config, o.demo)
	if err != nil {
		printConfigError(stderr, err, o.lang)
		return 1
	}
	lang := o.lang
	if lang == "" {
		lang = cfg.Language
	}
	say := cliText(lang)
	from := o.from
	if from == "" {
		from = filepath.Join(cfg.DataDir, "viza.db")
	}
	to := o.to
	if to == "" {
		if to, err = databaseURL(cfg); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if to == "" {
		fmt.Fprintln(stderr, say("cli.migrate_no_target", nil))
		return 2
	}
	// Open would make an empty database where there is none.
	if _, err := os.Stat(from); err != nil {
		fmt.Fprintln(stderr, say("cli.migrate_no_source", map[string]any{"File": from}))
		return 1
	}
	src, err := storage.Open(ctx, from)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer src.Close()
	dst, err := storage.OpenPostgres(ctx, to)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer dst.Close()
	shown := storage.Location{URL: to}.String()
	err = src.CopyTo(ctx, dst, storage.Files{Dir: filepath.Join(filepath.Dir(from), "files")}, func(what string, n int) {
		fmt.Fprintln(stdout, say("cli.migrate_copied", map[string]any{"What": what, "N": n}))
	})
	if errors.Is(err, storage.ErrTargetNotEmpty) {
		fmt.Fprintln(stderr, say("cli.migrate_not_empty", map[string]any{"URL": shown}))
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, say("cli.migrate_done", map[string]any{"URL": shown}))
	// The key is looked for where verify looks: VIZA_AUDIT_KEY, or
	// audit.key beside the database copied.
	m := &Main{Config: cfg, DB: dst}
	m.Config.DataDir = filepath.Dir(from)
	if err := m.useAuditKey(ctx, false); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return m.Verify(ctx, stdout, stderr, lang, false)
}
