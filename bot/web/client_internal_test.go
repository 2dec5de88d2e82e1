package web

import (
	"net/http"
	"testing"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.5:4000", nil, "203.0.113.5"},
		{"203.0.113.5:4000", []string{"10.0.0.1"}, "203.0.113.5"}, // not from a local proxy: the header is the client's own
		{"127.0.0.1:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"[::1]:4000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"}, // the proxy appends; what came before is the client's
		{"127.0.0.1:4000", []string{"1.2.3.4", "198.51.100.8"}, "198.51.100.8"},
		{"127.0.0.1:4000", []string{"not-an-ip"}, "127.0.0.1"},
		{"127.0.0.1:4000", nil, "127.0.0.1"},
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r); got != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}
