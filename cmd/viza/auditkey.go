package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/storage"
)

// AuditKeyEnv holds the audit chain's key as hex (or AuditKeyEnv_FILE a
// file with it). Without it the key is the file audit.key beside the
// database, made on the service's first start: keep a copy of it apart
// from the database's backups, or better, move it out and point
// VIZA_AUDIT_KEY_FILE at it — whoever holds both can rewrite the record.
const AuditKeyEnv = "VIZA_AUDIT_KEY"

func (m *Main) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

// useAuditKey keys the audit chain. create makes the default key file when
// there is none (the service does; the administration commands only read
// it, so that a missing key is reported, never replaced).
func (m *Main) useAuditKey(ctx context.Context, create bool) error {
	raw, err := config.Secret(AuditKeyEnv)
	if err != nil {
		return err
	}
	path := filepath.Join(m.Config.DataDir, "audit.key")
	if raw == "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			raw = string(b)
		case errors.Is(err, fs.ErrNotExist) && create && m.DB.Shared():
			// A key made here would reach no other replica, and each would
			// seal the one chain with its own.
			return fmt.Errorf("on PostgreSQL every replica needs the same audit key: set %s, or %s_FILE to a file with it "+
				"(make one with: openssl rand -hex 32)", AuditKeyEnv, AuditKeyEnv)
		case errors.Is(err, fs.ErrNotExist) && create:
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return fmt.Errorf("make the audit key: %w", err)
			}
			raw = hex.EncodeToString(key)
			if err := os.WriteFile(path, []byte(raw+"\n"), 0o600); err != nil {
				return fmt.Errorf("write the audit key: %w", err)
			}
			m.log().Warn("audit key made beside the database; keep a copy apart from its backups, or move it and set "+AuditKeyEnv+"_FILE", "file", path)
		case errors.Is(err, fs.ErrNotExist):
			return nil // verify reports the keyed part it cannot check
		default:
			return fmt.Errorf("read the audit key: %w", err)
		}
	}
	key, err := storage.ParseAuditKey(raw)
	if err != nil {
		return err
	}
	seal, fresh, err := m.DB.UseAuditKey(ctx, key)
	if err != nil {
		return err
	}
	if fresh && seal.From > 1 {
		m.log().Warn("audit chain sealed now: events before this one are plain SHA-256, from it on keyed; "+
			"if this database was sealed before, its seal was removed", "sealed_from", seal.From)
	}
	return nil
}
