package idp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
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

// UpstreamPolicy says which addresses the upstream client may dial
// (docs/security.md, "Grants and tenant inputs"). Whatever it says, cloud
// metadata services, link-local, unspecified, multicast and broadcast
// addresses are refused, in every form (IPv4-mapped, NAT64, 6to4, Teredo).
type UpstreamPolicy struct {
	// AllowPrivate lets connections reach loopback, private (RFC 1918, ULA)
	// and shared (CGNAT) addresses: IdPs on an internal network, tests.
	AllowPrivate bool
	// AllowCIDRs are prefixes the operator allows even without
	// AllowPrivate, and for special-purpose ranges (documentation,
	// benchmarking, transition prefixes) that AllowPrivate does not open.
	AllowCIDRs []netip.Prefix
}

// NewUpstreamClient returns the HTTP client the broker uses to talk to IdPs,
// with UpstreamPolicy{AllowPrivate: allowPrivate}; see
// NewUpstreamClientWithPolicy.
func NewUpstreamClient(allowPrivate bool) *http.Client {
	return NewUpstreamClientWithPolicy(UpstreamPolicy{AllowPrivate: allowPrivate})
}

// NewUpstreamClientWithPolicy returns the HTTP client the broker uses to
// talk to IdPs: overall and per-phase timeouts, answers of at most 1 MiB, no
// redirects followed, no proxy from the environment, and the address policy
// p checked on every dial, after name resolution (the dialer's Control hook
// sees the address actually connected to, so DNS rebinding gains nothing).
// An IdP is configured by an org admin, who is a customer: without the policy
// they could point a connection at the broker's own network.
func NewUpstreamClientWithPolicy(p UpstreamPolicy) *http.Client {
	dialer := &net.Dialer{
		Timeout:   upstreamDialTimeout,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			return p.check(address)
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

// ParseAllowCIDRs parses a comma-separated list of CIDR prefixes (the
// operator's SSOBROKER_IDP_ALLOW_CIDRS). Empty is no prefix.
func ParseAllowCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("idp: allowed CIDR %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkUpstreamAddress applies UpstreamPolicy{AllowPrivate: allowPrivate}
// to a resolved host:port.
func checkUpstreamAddress(address string, allowPrivate bool) error {
	return UpstreamPolicy{AllowPrivate: allowPrivate}.check(address)
}

// check applies the policy to a resolved host:port.
func (p UpstreamPolicy) check(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	a := ap.Addr().WithZone("")
	c, why := classifyAddr(a)
	switch c {
	case addrPublic:
		return nil
	case addrForbidden:
		return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, a, why)
	}
	if c == addrPrivate && p.AllowPrivate {
		return nil
	}
	for _, pre := range p.AllowCIDRs {
		if pre.Contains(a.Unmap()) || pre.Contains(a) {
			return nil
		}
		if v4, ok := embeddedIPv4(a); ok && pre.Contains(v4) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, a, why)
}

// addrClass is how the policy treats an address, from most to least open.
type addrClass int

const (
	addrPublic addrClass = iota
	// addrPrivate: loopback, private and shared ranges (AllowPrivate).
	addrPrivate
	// addrSpecial: special-purpose ranges not meant to reach a server on the
	// internet (only through AllowCIDRs).
	addrSpecial
	// addrForbidden: never, whatever the policy.
	addrForbidden
)

// specialRange is one entry of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890 and later), with how the policy treats it.
type specialRange struct {
	prefix string
	class  addrClass
	what   string
}

// metadataAddrs are cloud metadata and host services, refused always: AWS
// (IMDS, its IPv6 endpoint, ECS task metadata, EKS pod identity, time),
// GCP and Azure (169.254.169.254), Azure's wireserver, Oracle Cloud, Alibaba
// Cloud, Tencent Cloud.
func metadataAddrs() []string {
	return []string{
		"169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "169.254.169.123",
		"fd00:ec2::123", "168.63.129.16", "192.0.0.192", "100.100.100.200", "169.254.0.23",
	}
}

// specialRanges is the registries' content; the most specific match wins.
func specialRanges() []specialRange {
	return []specialRange{
		// IPv4
		{"0.0.0.0/8", addrForbidden, `"this network" (unspecified)`},
		{"10.0.0.0/8", addrPrivate, "private (RFC 1918)"},
		{"100.64.0.0/10", addrPrivate, "shared address space (CGNAT)"},
		{"127.0.0.0/8", addrPrivate, "loopback"},
		{"169.254.0.0/16", addrForbidden, "link-local"},
		{"172.16.0.0/12", addrPrivate, "private (RFC 1918)"},
		{"192.0.0.0/24", addrSpecial, "reserved for IETF protocol assignments"},
		{"192.0.2.0/24", addrSpecial, "documentation (TEST-NET-1)"},
		{"192.31.196.0/24", addrSpecial, "AS112"},
		{"192.52.193.0/24", addrSpecial, "AMT"},
		{"192.88.99.0/24", addrSpecial, "6to4 relay anycast"},
		{"192.168.0.0/16", addrPrivate, "private (RFC 1918)"},
		{"192.175.48.0/24", addrSpecial, "AS112 direct delegation"},
		{"198.18.0.0/15", addrSpecial, "benchmarking"},
		{"198.51.100.0/24", addrSpecial, "documentation (TEST-NET-2)"},
		{"203.0.113.0/24", addrSpecial, "documentation (TEST-NET-3)"},
		{"224.0.0.0/4", addrForbidden, "multicast"},
		{"240.0.0.0/4", addrForbidden, "reserved"},
		{"255.255.255.255/32", addrForbidden, "limited broadcast"},
		// IPv6: only 2000::/3 is global unicast; the rest of the space is
		// reserved or special.
		{"::/0", addrSpecial, "outside global unicast (2000::/3)"},
		{"2000::/3", addrPublic, "public"},
		{"64:ff9b::/96", addrPublic, "NAT64"},
		{"::/128", addrForbidden, "unspecified"},
		{"::1/128", addrPrivate, "loopback"},
		{"::/96", addrSpecial, "IPv4-compatible (deprecated)"},
		{"64:ff9b:1::/48", addrPrivate, "local-use NAT64"},
		{"100::/64", addrSpecial, "discard-only"},
		{"2001::/23", addrSpecial, "reserved for IETF protocol assignments"},
		{"2001::/32", addrSpecial, "Teredo"},
		{"2001:2::/48", addrSpecial, "benchmarking"},
		{"2001:db8::/32", addrSpecial, "documentation"},
		{"2002::/16", addrSpecial, "6to4"},
		{"3fff::/20", addrSpecial, "documentation"},
		{"5f00::/16", addrSpecial, "segment routing (SRv6) SIDs"},
		{"fc00::/7", addrPrivate, "unique local (ULA)"},
		{"fe80::/10", addrForbidden, "link-local"},
		{"fec0::/10", addrPrivate, "site-local (deprecated)"},
		{"ff00::/8", addrForbidden, "multicast"},
	}
}

// embeddedIPv4 returns the IPv4 address an IPv6 address carries and is
// delivered to: IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96, and
// 64:ff9b:1::/48 in its /96 form), 6to4 (2002::/16, bits 16–47) and Teredo
// (2001::/32, the client address in the last 32 bits, inverted).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if a.Is4() {
		return netip.Addr{}, false
	}
	if a.Is4In6() {
		return a.Unmap(), true
	}
	b := a.As16()
	last := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a), netip.MustParsePrefix("64:ff9b:1::/48").Contains(a):
		return last, true
	case netip.MustParsePrefix("2002::/16").Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case netip.MustParsePrefix("2001::/32").Contains(a):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}

// classifyAddr returns how the policy treats a, and why in words. An IPv6
// address carrying an IPv4 one is judged as that IPv4 address too, and gets
// the stricter of the two verdicts.
func classifyAddr(a netip.Addr) (addrClass, string) {
	for _, m := range metadataAddrs() {
		if netip.MustParseAddr(m) == a.Unmap() {
			return addrForbidden, "a cloud metadata address"
		}
	}
	class, why := addrPublic, "public"
	best := -1
	for _, r := range specialRanges() {
		p := netip.MustParsePrefix(r.prefix)
		if p.Addr().Is4() != a.Unmap().Is4() || !p.Contains(a.Unmap()) || p.Bits() <= best {
			continue
		}
		best, class, why = p.Bits(), r.class, r.what
	}
	if v4, ok := embeddedIPv4(a); ok {
		if c, w := classifyAddr(v4); c > class || a.Is4In6() {
			class, why = c, w+" (embedded in "+a.String()+")"
		}
	}
	return class, why
}

// FetchClass is the class of a failed call to an upstream IdP, what an
// org admin is told; the detail (addresses, ports, library errors) goes only
// to the operator's log.
type FetchClass int

// The classes of upstream failures.
const (
	FailureUnreachable FetchClass = iota + 1
	FailureRefusedAddress
	FailureTimeout
	FailureDNS
	FailureTLS
	FailureStatus
	FailureTooLarge
)

// FetchError is a failed call to an upstream IdP (discovery, metadata,
// keys). Error has the full detail, for the operator's log; PublicMessage
// names only the class, for the org admin (docs/security.md, "Grants and
// tenant inputs").
type FetchError struct {
	Class FetchClass
	// Status is the HTTP status of a FailureStatus.
	Status int
	Err    error
}

// Error returns the class and the full detail.
func (e *FetchError) Error() string { return e.PublicMessage() + ": " + e.Err.Error() }

// Unwrap returns the underlying error (errors.Is(err, ErrBlockedAddress) holds through it).
func (e *FetchError) Unwrap() error { return e.Err }

// PublicMessage says what went wrong without naming an address, port or
// library detail.
func (e *FetchError) PublicMessage() string {
	switch e.Class {
	case FailureRefusedAddress:
		return "refused: the address is not allowed"
	case FailureTimeout:
		return "timed out"
	case FailureDNS:
		return "the host name does not resolve"
	case FailureTLS:
		return "the TLS handshake failed (certificate not trusted, expired or for another name)"
	case FailureStatus:
		return fmt.Sprintf("answered %d %s", e.Status, http.StatusText(e.Status))
	case FailureTooLarge:
		return "the answer is larger than 1 MiB"
	}
	return "not reachable"
}

// FetchStatusError is the error of an upstream answer with an unexpected
// HTTP status.
func FetchStatusError(status int, detail string) error {
	return &FetchError{Class: FailureStatus, Status: status, Err: errors.New(detail)}
}

// ClassifyFetch returns err as an *FetchError naming its class: the
// one place where network errors become what an org admin may see. An err
// that already holds an *FetchError, and nil, are returned unchanged.
func ClassifyFetch(err error) error {
	var ue *FetchError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	class := FailureUnreachable
	var dnsErr *net.DNSError
	var netErr net.Error
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.Is(err, ErrBlockedAddress):
		class = FailureRefusedAddress
	case errors.Is(err, errTooLarge):
		class = FailureTooLarge
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		class = FailureDNS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		class = FailureTimeout
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr), errors.As(err, &verifyErr),
		errors.As(err, &recordErr), errors.As(err, &alert):
		class = FailureTLS
	}
	return &FetchError{Class: class, Err: err}
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
