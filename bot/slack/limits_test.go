package slack

import (
	"testing"
	"time"
)

// TestTierBucketStaysInsideEveryMinute: a caller taking every call the
// method's bucket allows, as fast as it allows them, never makes more than
// the tier's calls in any sixty seconds — Slack counts a minute, not a
// rate — and still gets 90% of them over three minutes.
func TestTierBucketStaysInsideEveryMinute(t *testing.T) {
	for method, perMinute := range tiers {
		l := newLimits(Config{PerChannel: time.Second, Workspace: 5}).methods[method]
		start := time.Unix(1_800_000_000, 0)
		var calls []time.Time
		for at := start; at.Before(start.Add(3 * time.Minute)); at = at.Add(10 * time.Millisecond) {
			if l.AllowN(at, 1) {
				calls = append(calls, at)
			}
		}
		for i := range calls {
			n := 0
			for j := i; j < len(calls) && calls[j].Sub(calls[i]) < time.Minute; j++ {
				n++
			}
			if n > perMinute {
				t.Fatalf("%s: %d calls in the minute from %s, the tier allows %d", method, n, calls[i].Sub(start), perMinute)
			}
		}
		if min := int(0.9 * 3 * float64(perMinute)); len(calls) < min {
			t.Errorf("%s: %d calls in three minutes, want %d or more", method, len(calls), min)
		}
	}
}
