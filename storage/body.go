package storage

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/s2"

	"github.com/viza-app/viza/flows"
)

// A document's body is its JSON, compressed with S2 and stored as a BLOB.
//
// Compression is for the write path, not for disk space: a decision
// rewrites its document's row, and a row that no longer fits its page
// rebalances the page with its neighbours — three or four pages into the WAL
// instead of one, each written and flushed before the decision is
// acknowledged. JSON bodies (~2 KB, two to a page) did that on most
// decisions; compressed ones (~0.8 KB) seldom do. S2 because it costs about
// a microsecond for a body either way.
//
// Rows written before compression hold their JSON as TEXT; they are read as
// such and compressed when next saved.

// bodyEncoder encodes bodies into buffers it keeps: the writer encodes one
// per document it saves, and SQLite copies a bound value, so a body is only
// needed until its statement has run.
type bodyEncoder struct {
	json bytes.Buffer
	s2   []byte
}

// encode returns d's body, valid until the next call.
func (e *bodyEncoder) encode(d *flows.Document) ([]byte, error) {
	e.json.Reset()
	if err := json.NewEncoder(&e.json).Encode(d); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	raw := bytes.TrimSuffix(e.json.Bytes(), []byte("\n")) // Encode ends the value with a newline
	e.s2 = s2.Encode(e.s2[:cap(e.s2)], raw)
	return e.s2, nil
}

// body scans the body column — TEXT (JSON, as first stored) or BLOB (S2) —
// into JSON of its own: the driver's bytes are not kept past Scan.
type body []byte

func (b *body) Scan(v any) error {
	switch v := v.(type) {
	case string:
		*b = []byte(v)
	case []byte:
		raw, err := s2.Decode(nil, v)
		if err != nil {
			return fmt.Errorf("decompress document body: %w", err)
		}
		*b = raw
	default:
		return fmt.Errorf("document body of type %T", v)
	}
	return nil
}

func decodeDocument(id int64, b body) (*flows.Document, error) {
	d := &flows.Document{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("decode document %d: %w", id, err)
	}
	d.ID = id
	return d, nil
}
