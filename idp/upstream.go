package idp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Limits of calls to upstream IdPs. An IdP is configured by an org admin,
// who is a customer, so its answers are bounded like any untrusted input.
const (
	upstreamTimeout       = 15 * time.Second
	upstreamDialTimeout   = 5 * time.Second
	upstreamHeaderTimeout = 10 * time.Second
	// upstreamMaxBody bounds one answer (discovery, JWKS, token, userinfo).
	upstreamMaxBody = 1 << 20
)

// ErrBlockedAddress is returned (wrapped) when an IdP URL resolves to an
// address the upstream policy forbids.
var ErrBlockedAddress = errors.New("idp: upstream address not allowed")

// NewUpstreamClient returns the HTTP client the broker uses to talk to IdPs:
// overall and per-phase timeouts, answers of at most 1 MiB, no redirects
// followed, no proxy from the environment, and a dial-time address check.
// Link-local addresses (cloud metadata services) are always refused; with
// allowPrivate false, so are loopback, private, shared (CGNAT), unspecified
// and multicast addresses, so an org admin cannot point a connection at
// the broker's own network. Set allowPrivate for IdPs on an internal network
// and for tests on loopback.
func NewUpstreamClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{
		Timeout:   upstreamDialTimeout,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			return checkUpstreamAddress(address, allowPrivate)
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   upstreamDialTimeout,
		ResponseHeaderTimeout: upstreamHeaderTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:   upstreamTimeout,
		Transport: limitedTransport{next: transport, max: upstreamMaxBody},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checkUpstreamAddress applies the address policy to a resolved host:port.
func checkUpstreamAddress(address string, allowPrivate bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	a := ap.Addr().Unmap()
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		return fmt.Errorf("%w: %s is link-local", ErrBlockedAddress, a)
	}
	if allowPrivate {
		return nil
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	thisNet := netip.MustParsePrefix("0.0.0.0/8")
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() ||
		cgnat.Contains(a) || thisNet.Contains(a) {
		return fmt.Errorf("%w: %s is not a public address", ErrBlockedAddress, a)
	}
	return nil
}

// limitedTransport cuts every answer body at max bytes.
type limitedTransport struct {
	next http.RoundTripper
	max  int64
}

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// errTooLarge is returned by a body read past the limit.
var errTooLarge = errors.New("idp: upstream answer larger than 1 MiB")

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
