package storage

// TamperForTest rewrites one audit row behind the triggers' back, as an
// attacker with the file would, so that verify can be shown to catch it.
func TamperForTest(db *DB, id int64) error {
	tx, err := db.writer.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DROP TRIGGER audit_no_update`); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE audit SET detail = 'forged' WHERE id = ?`, id); err != nil {
		return err
	}
	return tx.Commit()
}
