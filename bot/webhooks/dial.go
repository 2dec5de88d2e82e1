package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NewClient is the HTTP client webhooks are sent with: 15 s an attempt,
// no redirect followed (the answer is the attempt's result), and unless
// private is set, no connection to a loopback, link-local, private,
// shared or unspecified address. The check is made on the address the
// connection is really made to, after DNS, so a name that resolves to
// 127.0.0.1 or 169.254.169.254 is refused as well.
func NewClient(private bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !private {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			if reason := notPublic(ip.Unmap()); reason != "" {
				return fmt.Errorf("%w: %s is %s (allow_private: true allows it)", errPrivate, ip, reason)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil // a proxy would be dialled instead of the receiver and hide where it goes
	return &http.Client{Timeout: 15 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var errPrivate = errors.New("webhook destination refused")

// sharedNet is 100.64.0.0/10, carrier-grade NAT: not the public Internet.
var sharedNet = netip.MustParsePrefix("100.64.0.0/10")

func notPublic(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsPrivate(), sharedNet.Contains(ip):
		return "private"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	return ""
}
