package session

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Sources finds the network source of a request, the key of every
// per-source budget (failed client authentications, unauthenticated
// sign-in starts). The zero value trusts no proxy: the source is the peer
// address of the connection. See docs/security.md ("Abuse resistance").
type Sources struct {
	trusted []netip.Prefix
}

// NewSources returns a Sources that believes X-Forwarded-For only when the
// connection comes from one of trustedProxies (CIDRs or single addresses,
// SSOBROKER_TRUSTED_PROXIES). It fails on an entry that does not parse.
func NewSources(trustedProxies []string) (Sources, error) {
	var s Sources
	for _, raw := range trustedProxies {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if !strings.Contains(raw, "/") {
			a, err := netip.ParseAddr(raw)
			if err != nil {
				return Sources{}, fmt.Errorf("trusted proxy %q: %w", raw, err)
			}
			raw = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		}
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return Sources{}, fmt.Errorf("trusted proxy %q: %w", raw, err)
		}
		s.trusted = append(s.trusted, p.Masked())
	}
	return s, nil
}

// Of returns the source key of r: an IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64, so counting single IPv6
// addresses would give an attacker 2^64 budgets). Behind trusted proxies it
// is the rightmost X-Forwarded-For address that is not itself a trusted
// proxy. A peer address that does not parse gives "unknown", one shared
// budget.
func (s Sources) Of(r *http.Request) string {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return "unknown"
	}
	if s.isTrusted(peer) {
		hops := r.Header.Values("X-Forwarded-For")
		var all []string
		for _, h := range hops {
			all = append(all, strings.Split(h, ",")...)
		}
		for i := len(all) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(all[i]))
			if err != nil {
				break // a malformed hop: stop believing the header
			}
			a = a.Unmap()
			peer = a
			if !s.isTrusted(a) {
				break
			}
		}
	}
	return sourceKey(peer)
}

func (s Sources) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseHostAddr(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func sourceKey(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
