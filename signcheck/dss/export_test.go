package dss

import "time"

// SetNow gives a token source a clock of the test's.
func SetNow(o *OAuthPassword, now func() time.Time) { o.now = now }
