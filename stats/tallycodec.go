package stats

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/viza-app/viza/flows"
)

// A tally is kept as a few kilobytes of unsigned varints, not JSON or gob:
// a year is read as 365 of them and added up within milliseconds, and the
// adding happens while decoding, with no tally per day built in between.
// Keys are written sorted, so the same tally encodes to the same bytes.
const tallyFormat = 1

// Encode writes t in the storage's format.
func (t *Tally) Encode() []byte {
	b := binary.AppendUvarint(nil, tallyFormat)
	b = binary.AppendUvarint(b, uint64(len(t.Types)))
	for _, typ := range slices.Sorted(maps.Keys(t.Types)) {
		tt := t.Types[typ]
		b = appendString(b, typ)
		b = binary.AppendUvarint(b, uint64(len(tt.Stages)))
		for _, s := range slices.Sorted(maps.Keys(tt.Stages)) {
			b = binary.AppendUvarint(b, uint64(s))
			b = tt.Stages[s].append(b)
		}
		b = binary.AppendUvarint(b, uint64(len(tt.People)))
		for _, p := range slices.Sorted(maps.Keys(tt.People)) {
			b = appendString(b, string(p))
			b = tt.People[p].append(b)
			b = binary.AppendUvarint(b, uint64(len(tt.For[p])))
			for _, h := range slices.Sorted(maps.Keys(tt.For[p])) {
				b = appendString(b, string(h))
			}
		}
		b = binary.AppendUvarint(b, uint64(len(tt.RejStage)))
		for _, s := range slices.Sorted(maps.Keys(tt.RejStage)) {
			b = binary.AppendUvarint(b, uint64(s))
			b = binary.AppendUvarint(b, uint64(tt.RejStage[s]))
		}
		b = binary.AppendUvarint(b, uint64(len(tt.RejPerson)))
		for _, p := range slices.Sorted(maps.Keys(tt.RejPerson)) {
			b = appendString(b, string(p))
			b = binary.AppendUvarint(b, uint64(tt.RejPerson[p]))
		}
		b = binary.AppendUvarint(b, uint64(tt.Rework.Docs))
		b = binary.AppendUvarint(b, uint64(tt.Rework.Rounds))
		b = binary.AppendUvarint(b, uint64(tt.Rework.Rejected))
		b = binary.AppendUvarint(b, uint64(len(tt.Cycle)))
		for _, m := range slices.Sorted(maps.Keys(tt.Cycle)) {
			b = appendString(b, m)
			b = tt.Cycle[m].Approved.append(b)
			b = tt.Cycle[m].Done.append(b)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// append writes h: its sums, then its values in order, each as the step
// from the one before and how many had it.
func (h *Hist) append(b []byte) []byte {
	for _, n := range []int{h.N, h.Late, h.Reminders, h.Escalated, len(h.Values)} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	prev := 0
	for _, v := range slices.Sorted(maps.Keys(h.Values)) {
		b = binary.AppendUvarint(b, uint64(v-prev))
		b = binary.AppendUvarint(b, uint64(h.Values[v]))
		prev = v
	}
	return b
}

var errTally = errors.New("malformed tally")

// decoder reads a tally, interning the strings it meets.
type decoder struct {
	b    []byte
	err  error
	seen map[string]string
}

func (d *decoder) uint() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > 1<<40 {
		d.err = errTally
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

// count reads how many entries follow: each takes a byte at least, so
// more than the bytes left is malformed (and never a long loop).
func (d *decoder) count() int {
	n := d.uint()
	if n > len(d.b) {
		d.err = errTally
		return 0
	}
	return n
}

func (d *decoder) string() string {
	n := d.uint()
	if d.err != nil || n > len(d.b) {
		d.err = errTally
		return ""
	}
	s, ok := d.seen[string(d.b[:n])]
	if !ok {
		s = string(d.b[:n])
		d.seen[s] = s
	}
	d.b = d.b[n:]
	return s
}

// hist reads a Hist into h, or past it when h is nil.
func (d *decoder) hist(h *Hist) {
	n, late, reminders, escalated, values := d.uint(), d.uint(), d.uint(), d.uint(), d.count()
	if h != nil {
		h.N += n
		h.Late += late
		h.Reminders += reminders
		h.Escalated += escalated
		if h.Values == nil {
			h.Values = make(map[int]int, values)
		}
	}
	v := 0
	for range values {
		v += d.uint()
		k := d.uint()
		if h != nil && d.err == nil {
			h.Values[v] += k
		}
	}
}

// AddEncoded adds the tally encoded in b to t, only its type typ when typ
// is not empty. On a malformed b it returns an error, and t may hold part
// of it.
func (t *Tally) AddEncoded(b []byte, typ string) error {
	d := &decoder{b: b, seen: map[string]string{}}
	if f := d.uint(); d.err == nil && f != tallyFormat {
		return fmt.Errorf("tally format %d, want %d", f, tallyFormat)
	}
	for range d.count() {
		name := d.string()
		if d.err != nil {
			break
		}
		var tt *TypeTally
		if typ == "" || name == typ {
			tt = t.of(name)
		}
		for range d.count() {
			s := d.uint()
			var h *Hist
			if tt != nil {
				h = hist(tt.Stages, s)
			}
			d.hist(h)
		}
		for range d.count() {
			p := flows.PersonID(d.string())
			var h *Hist
			if tt != nil {
				h = hist(tt.People, p)
			}
			d.hist(h)
			for range d.count() {
				holder := flows.PersonID(d.string())
				if tt != nil && d.err == nil {
					addFor(tt, p, holder)
				}
			}
		}
		for range d.count() {
			s, n := d.uint(), d.uint()
			if tt != nil {
				tt.RejStage[s] += n
			}
		}
		for range d.count() {
			p, n := flows.PersonID(d.string()), d.uint()
			if tt != nil {
				tt.RejPerson[p] += n
			}
		}
		docs, rounds, rejected := d.uint(), d.uint(), d.uint()
		if tt != nil {
			tt.Rework.Docs += docs
			tt.Rework.Rounds += rounds
			tt.Rework.Rejected += rejected
		}
		for range d.count() {
			m := d.string()
			var c *CycleHist
			if tt != nil && d.err == nil {
				if c = tt.Cycle[m]; c == nil {
					c = &CycleHist{}
					tt.Cycle[m] = c
				}
			}
			if c != nil {
				d.hist(&c.Approved)
				d.hist(&c.Done)
			} else {
				d.hist(nil)
				d.hist(nil)
			}
		}
		if d.err != nil {
			break
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes after its end", errTally, len(d.b))
	}
	return nil
}
