package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/s2"
)

// copiedTables are the tables CopyTo carries over, parents first. The
// SQLite-only ones (the full-text index, schema_migrations) are not among
// them: PostgreSQL has its own.
var copiedTables = []string{"documents", "tasks", "open_tasks", "counters", "audit", "notifications", "deliveries", "inbound",
	"absences", "inbox", "channel_state", "reminders", "api_keys", "webhook_deliveries", "readers"}

// identityTables are the tables whose ids PostgreSQL assigns: after a copy
// its sequences go on from the copied ids.
var identityTables = []string{"documents", "notifications", "deliveries", "absences", "reminders", "webhook_deliveries"}

// ErrTargetNotEmpty means CopyTo was pointed at a database that already
// holds a record.
var ErrTargetNotEmpty = errors.New("the target database already holds documents or audit events")

// CopyTo copies everything in db (SQLite) into dst (a PostgreSQL database
// just opened, hence migrated, and empty) — every table, row for row, ids
// and hashes as they are, so that the audit chain verifies on the copy —
// and the version files under files into dst's file store. progress is
// told each table's rows as they are copied. db should not be written
// meanwhile: stop the service first.
func (db *DB) CopyTo(ctx context.Context, dst *DB, files Files, progress func(what string, n int)) error {
	if db.pg || !dst.pg {
		return errors.New("copy: from SQLite to PostgreSQL only")
	}
	var held int
	if err := dst.reader.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM documents) + (SELECT COUNT(*) FROM audit)`).Scan(&held); err != nil {
		return fmt.Errorf("look into the target: %w", err)
	}
	if held > 0 {
		return ErrTargetNotEmpty
	}
	// Files first: stored by their hash, they may be copied again should a
	// copy fail, while the tables go in one transaction.
	nfiles, err := copyFiles(ctx, files, DBFiles{DB: dst})
	if err != nil {
		return err
	}
	progress("files", nfiles)
	tx, err := dst.reader.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin copy: %w", err)
	}
	defer tx.Rollback()
	// The target's own starting counters give way to the copied ones.
	if _, err := tx.ExecContext(ctx, `DELETE FROM counters`); err != nil {
		return fmt.Errorf("clear counters: %w", err)
	}
	for _, table := range copiedTables {
		n, err := db.copyTable(ctx, tx, table)
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		progress(table, n)
	}
	for _, table := range identityTables {
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM `+table); err != nil {
			return fmt.Errorf("move the ids of %s on: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit copy: %w", err)
	}
	return nil
}

// copyTable copies one table's rows in statements of many rows. The
// columns are the target's: PostgreSQL's documents have search words
// SQLite keeps in its full-text index instead, made here from the row.
func (db *DB) copyTable(ctx context.Context, tx *sql.Tx, table string) (int, error) {
	cols, err := targetColumns(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	var read []string
	for _, c := range cols {
		if c == "words" || c == "cp_words" {
			continue
		}
		read = append(read, c)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+strings.Join(read, ", ")+` FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	const perInsert = 200
	ins := &repeated{head: `INSERT INTO ` + table + `(` + strings.Join(cols, ", ") + `) VALUES `,
		part: `(` + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + `)`, perPart: len(cols)}
	var args []any
	n := 0
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, ins.text(len(args)/len(cols)), args...)
		args = args[:0]
		return err
	}
	vals := make([]any, len(read))
	ptrs := make([]any, len(read))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		row := map[string]any{}
		for i, c := range read {
			row[c] = vals[i]
		}
		if table == "documents" {
			if err := documentForPostgres(row); err != nil {
				return n, err
			}
		}
		for _, c := range cols {
			args = append(args, row[c])
		}
		n++
		if n%perInsert == 0 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// documentForPostgres makes a documents row fit PostgreSQL's: the body as
// bytes (rows from before compression hold JSON text, compressed here as
// the writer would on their next save) and the search words.
func documentForPostgres(row map[string]any) error {
	if text, ok := row["body"].(string); ok {
		row["body"] = s2.Encode(nil, []byte(text))
	}
	str := func(c string) string {
		switch v := row[c].(type) {
		case string:
			return v
		case []byte:
			return string(v)
		}
		return ""
	}
	row["words"] = searchWords(str("number"), str("title"), str("counterparty"))
	row["cp_words"] = searchWords(str("counterparty"))
	return nil
}

func targetColumns(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("no table %s in the target", table)
	}
	return cols, rows.Err()
}

// copyFiles puts every version file under from into to.
func copyFiles(ctx context.Context, from Files, to DBFiles) (int, error) {
	n := 0
	err := filepath.WalkDir(from.Dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == from.Dir {
			return filepath.SkipDir // no files yet
		}
		if err != nil || d.IsDir() || !shaRE.MatchString(d.Name()) {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sum, _, err := to.Put(ctx, f, 1<<40)
		if err != nil {
			return fmt.Errorf("copy file %s: %w", d.Name(), err)
		}
		if sum != d.Name() {
			return fmt.Errorf("file %s holds content whose SHA-256 is %s", path, sum)
		}
		n++
		return nil
	})
	return n, err
}
