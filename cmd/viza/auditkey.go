package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

// useAuditKey keys the audit chain. The service (serve) makes the default
// key file when there is none and seals a new, empty database; the
// administration commands only read: a missing key is reported, never
// replaced, and a chain with events and no seal is refused by both
// (storage.ErrSealMissing) — sealing an existing database is the
// operator's explicit `viza seal`.
func (m *Main) useAuditKey(ctx context.Context, create bool) error {
	policy := storage.SealNever
	if create {
		policy = storage.SealIfEmpty
	}
	return m.useAuditKeyWith(ctx, create, policy)
}

func (m *Main) useAuditKeyWith(ctx context.Context, create bool, policy storage.SealPolicy) error {
	raw, err := config.Secret(AuditKeyEnv)
	if err != nil {
		return err
	}
	path := filepath.Join(m.Config.DataDir, "audit.key")
	keyFile := os.Getenv(AuditKeyEnv + "_FILE")
	if os.Getenv(AuditKeyEnv) != "" {
		keyFile = "" // given as a value: there is no "beside the key"
	}
	if raw == "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			raw, keyFile = string(b), path
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
			keyFile = path
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
	marker, hasMarker, err := readSealMarker(keyFile)
	if err != nil {
		return err
	}
	if hasMarker && policy == storage.SealNow {
		// The key's marker says this database was sealed: a missing seal
		// is a removed one, never one to make again.
		policy = storage.SealNever
	}
	seal, fresh, err := m.DB.UseAuditKey(ctx, key, policy)
	if errors.Is(err, storage.ErrSealMissing) {
		if hasMarker {
			return fmt.Errorf("%w: the key's marker %s says this database was sealed from event %d; its seal was removed, so the keyed "+
				"record cannot be trusted — restore the database from a backup and run viza verify", err, keyFile+sealMarkerSuffix, marker.From)
		}
		return fmt.Errorf("%w: either it was written before audit keys (then seal it once, knowingly: viza seal) or its seal was removed "+
			"to undo the keyed chain (then restore it from a backup)", err)
	}
	if err != nil {
		return err
	}
	if hasMarker && seal.From != 0 && (seal.From != marker.From || marker.MAC != m.DB.SealMAC(seal)) {
		return fmt.Errorf("seal_mismatch: the database is sealed from event %d, the key's marker %s says from %d: the seal was replaced",
			seal.From, keyFile+sealMarkerSuffix, marker.From)
	}
	if fresh {
		m.log().Info("audit chain sealed", "sealed_from", seal.From)
	}
	if seal.From != 0 && !hasMarker && keyFile != "" && policy != storage.SealNever {
		// Kept outside the database too: whoever deletes the seal row
		// cannot delete this.
		if err := writeSealMarker(keyFile, sealMarker{From: seal.From, MAC: m.DB.SealMAC(seal)}); err != nil {
			m.log().Warn("keep the seal beside the audit key", "err", err)
		}
	}
	return nil
}

// sealMarkerSuffix names the file beside the key that says the chain is
// keyed, and from where.
const sealMarkerSuffix = ".sealed"

type sealMarker struct {
	From int64  `json:"from"`
	MAC  string `json:"mac"`
}

func readSealMarker(keyFile string) (sealMarker, bool, error) {
	if keyFile == "" {
		return sealMarker{}, false, nil
	}
	b, err := os.ReadFile(keyFile + sealMarkerSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return sealMarker{}, false, nil
	}
	if err != nil {
		return sealMarker{}, false, fmt.Errorf("read the seal marker: %w", err)
	}
	var s sealMarker
	if err := json.Unmarshal(b, &s); err != nil || s.From <= 0 {
		return sealMarker{}, false, fmt.Errorf("the seal marker %s is unreadable", keyFile+sealMarkerSuffix)
	}
	return s, true, nil
}

func writeSealMarker(keyFile string, s sealMarker) error {
	b, _ := json.Marshal(s)
	return os.WriteFile(keyFile+sealMarkerSuffix, append(b, '\n'), 0o600)
}
