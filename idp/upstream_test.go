package idp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Every form of the special-purpose registries, with what the policy does
// strictly (no private IdPs), with private IdPs allowed, and with private
// IdPs allowed plus the allow-list 198.18.0.0/15 and 10.9.0.0/16.
func TestUpstreamAddressPolicyTable(t *testing.T) {
	const (
		refuse = iota
		allow
	)
	allowCIDRs, err := ParseAllowCIDRs(" 198.18.0.0/15, 10.9.0.0/16 ,")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr                  string
		strict, private, cidr int
	}{
		// Public.
		{"93.184.216.34", allow, allow, allow},
		{"2606:2800:220:1:248:1893:25c8:1946", allow, allow, allow},
		{"64:ff9b::5db8:d822", allow, allow, allow}, // NAT64 of 93.184.216.34 (DNS64 networks)
		// Cloud metadata, in every form, whatever the operator allows.
		{"169.254.169.254", refuse, refuse, refuse},
		{"::ffff:169.254.169.254", refuse, refuse, refuse},
		{"64:ff9b::a9fe:a9fe", refuse, refuse, refuse},                   // NAT64
		{"64:ff9b:1::a9fe:a9fe", refuse, refuse, refuse},                 // local-use NAT64
		{"2002:a9fe:a9fe::1", refuse, refuse, refuse},                    // 6to4
		{"2001:0:4136:e378:8000:63bf:5601:5601", refuse, refuse, refuse}, // Teredo, client ^a9fe:a9fe
		{"fd00:ec2::254", refuse, refuse, refuse},                        // AWS IMDS over IPv6
		{"fd00:ec2::23", refuse, refuse, refuse},                         // EKS pod identity
		{"169.254.170.2", refuse, refuse, refuse},                        // ECS task metadata
		{"100.100.100.200", refuse, refuse, refuse},                      // Alibaba Cloud
		{"192.0.0.192", refuse, refuse, refuse},                          // Oracle Cloud
		{"168.63.129.16", refuse, refuse, refuse},                        // Azure wireserver
		// Never: link-local, unspecified, multicast, broadcast, reserved.
		{"169.254.1.1", refuse, refuse, refuse},
		{"fe80::1", refuse, refuse, refuse},
		{"0.0.0.0", refuse, refuse, refuse},
		{"0.1.2.3", refuse, refuse, refuse},
		{"::", refuse, refuse, refuse},
		{"224.0.0.1", refuse, refuse, refuse},
		{"ff02::1", refuse, refuse, refuse},
		{"255.255.255.255", refuse, refuse, refuse},
		{"240.0.0.1", refuse, refuse, refuse},
		// Loopback and private: only when the operator allows private IdPs,
		// in every form.
		{"127.0.0.1", refuse, allow, allow},
		{"::1", refuse, allow, allow},
		{"::ffff:127.0.0.1", refuse, allow, allow},
		{"64:ff9b::7f00:1", refuse, allow, allow}, // NAT64 of loopback
		{"10.1.2.3", refuse, allow, allow},
		{"172.16.0.1", refuse, allow, allow},
		{"192.168.1.1", refuse, allow, allow},
		{"100.64.0.1", refuse, allow, allow},
		{"fd12:3456::1", refuse, allow, allow},
		{"64:ff9b:1::a01:203", refuse, allow, allow}, // local-use NAT64
		// Special-purpose: only through the allow-list.
		{"2002:7f00:1::1", refuse, refuse, refuse},                       // 6to4 of loopback
		{"2002:5db8:d822::1", refuse, refuse, refuse},                    // 6to4 of a public address
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", refuse, refuse, refuse}, // Teredo, client 127.0.0.1
		{"192.0.2.1", refuse, refuse, refuse},
		{"198.51.100.1", refuse, refuse, refuse},
		{"203.0.113.1", refuse, refuse, refuse},
		{"192.0.0.8", refuse, refuse, refuse},
		{"192.88.99.1", refuse, refuse, refuse},
		{"198.18.0.1", refuse, refuse, allow},
		{"2001:db8::1", refuse, refuse, refuse},
		{"2001:2::1", refuse, refuse, refuse},
		{"100::1", refuse, refuse, refuse},
		{"::1.2.3.4", refuse, refuse, refuse}, // IPv4-compatible, deprecated
		{"3fff::1", refuse, refuse, refuse},
		{"4000::1", refuse, refuse, refuse}, // outside 2000::/3
		// The allow-list without private IdPs allowed.
		{"10.9.1.1", refuse, allow, allow},
	} {
		for i, p := range []UpstreamPolicy{{}, {AllowPrivate: true}, {AllowPrivate: true, AllowCIDRs: allowCIDRs}} {
			want := []int{tc.strict, tc.private, tc.cidr}[i]
			err := p.check(net.JoinHostPort(tc.addr, "443"))
			if (err == nil) != (want == allow) {
				t.Errorf("%s with policy %+v: err %v, want allowed=%v", tc.addr, p, err, want == allow)
			}
			if err != nil && !errors.Is(err, ErrBlockedAddress) {
				t.Errorf("%s: %v does not wrap ErrBlockedAddress", tc.addr, err)
			}
		}
	}
	// The allow-list alone opens its prefixes, not other private ones, and
	// never the always-refused ones.
	only := UpstreamPolicy{AllowCIDRs: allowCIDRs}
	if only.check("10.9.1.1:443") != nil || only.check("10.1.1.1:443") == nil || only.check("127.0.0.1:443") == nil {
		t.Error("an allow-list without private IdPs must open exactly its prefixes")
	}
	wide := UpstreamPolicy{AllowPrivate: true, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	for _, a := range []string{"169.254.169.254:80", "[fd00:ec2::254]:80", "100.100.100.200:80", "[64:ff9b::a9fe:a9fe]:80", "0.0.0.0:80"} {
		if wide.check(a) == nil {
			t.Errorf("%s allowed by an allow-list: metadata and unspecified addresses are refused always", a)
		}
	}
	if _, err := ParseAllowCIDRs("10.0.0.0/8,nonsense"); err == nil {
		t.Error("a bad CIDR parsed")
	}
}

// The check runs on the address actually dialed, after name resolution, so
// a host name resolving to loopback is refused like the literal.
func TestUpstreamPolicyAppliesAfterResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	_, err := NewUpstreamClientWithPolicy(UpstreamPolicy{}).Get("http://localhost:" + port + "/")
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("localhost reached: %v", err)
	}
	resp, err := NewUpstreamClientWithPolicy(UpstreamPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}).Get(srv.URL)
	if err != nil {
		t.Fatalf("an allow-listed address refused: %v", err)
	}
	resp.Body.Close()
}

// An org admin sees the class of a failure, never an address or a port; the
// operator's log (Error) keeps the detail.
func TestFetchErrorsTellTheClassOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	_, err := NewUpstreamClient(false).Get(srv.URL)
	fe := asFetchError(t, ClassifyFetch(err))
	if fe.Class != FailureRefusedAddress || fe.PublicMessage() != "refused: the address is not allowed" {
		t.Fatalf("class %v, message %q", fe.Class, fe.PublicMessage())
	}
	if !strings.Contains(fe.Error(), "127.0.0.1") || !errors.Is(fe, ErrBlockedAddress) {
		t.Fatalf("the log line lost the detail: %v", fe)
	}

	ctx, stop := context.WithDeadline(context.Background(), time.Unix(0, 0)) // already past
	defer stop()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err = NewUpstreamClient(true).Do(req)
	if fe := asFetchError(t, ClassifyFetch(err)); fe.Class != FailureTimeout || fe.PublicMessage() != "timed out" {
		t.Fatalf("expired deadline: %v", fe)
	}

	_, err = NewUpstreamClient(true).Get("http://name.invalid/")
	if fe := asFetchError(t, ClassifyFetch(err)); fe.Class != FailureDNS {
		t.Fatalf("unknown host: %v", fe)
	}

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	_, err = NewUpstreamClient(true).Get(tlsSrv.URL)
	if fe := asFetchError(t, ClassifyFetch(err)); fe.Class != FailureTLS {
		t.Fatalf("untrusted certificate: %v", fe)
	}

	for _, fe := range []*FetchError{
		asFetchError(t, FetchStatusError(404, srv.URL+" answered 404 Not Found")),
		asFetchError(t, ClassifyFetch(errTooLarge)),
		asFetchError(t, ClassifyFetch(errors.New("dial tcp 10.0.0.7:443: connect: connection refused"))),
	} {
		msg := fe.PublicMessage()
		if strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, port) || strings.Contains(msg, "10.0.0.7") || strings.Contains(msg, "dial") {
			t.Fatalf("public message %q names network detail", msg)
		}
	}
	if got := asFetchError(t, FetchStatusError(404, "x")).PublicMessage(); got != "answered 404 Not Found" {
		t.Fatalf("status message %q", got)
	}
	if ClassifyFetch(nil) != nil {
		t.Fatal("nil classified")
	}
	already := FetchStatusError(500, "x")
	if ClassifyFetch(already) != already {
		t.Fatal("a classified error is classified again")
	}
}

func asFetchError(t *testing.T, err error) *FetchError {
	t.Helper()
	var fe *FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("%v is not a *FetchError", err)
	}
	return fe
}
