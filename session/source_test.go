package session

import (
	"net/http/httptest"
	"testing"
)

func TestSourceIsThePeerUnlessAProxyIsTrusted(t *testing.T) {
	direct, err := NewSources(nil)
	if err != nil {
		t.Fatal(err)
	}
	proxied, err := NewSources([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		s      Sources
		remote string
		xff    []string
		want   string
	}{
		{"peer ipv4", direct, "192.0.2.7:5555", nil, "192.0.2.7"},
		{"forwarded header ignored without trusted proxy", direct, "192.0.2.7:5555", []string{"198.51.100.1"}, "192.0.2.7"},
		{"ipv6 grouped by /64", direct, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"ipv4-mapped ipv6 is ipv4", direct, "[::ffff:192.0.2.9]:1", nil, "192.0.2.9"},
		{"trusted proxy: rightmost untrusted hop", proxied, "10.1.1.1:80", []string{"203.0.113.5, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"trusted proxy: several header lines", proxied, "127.0.0.1:80", []string{"203.0.113.5", "198.51.100.2"}, "198.51.100.2"},
		{"trusted proxy: malformed hop stops", proxied, "10.1.1.1:80", []string{"198.51.100.1, nonsense"}, "10.1.1.1"},
		{"untrusted peer with header", proxied, "192.0.2.1:80", []string{"198.51.100.1"}, "192.0.2.1"},
		{"unparsable peer", direct, "@", nil, "unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.s.Of(r); got != c.want {
				t.Fatalf("Of = %q, want %q", got, c.want)
			}
		})
	}
	if _, err := NewSources([]string{"not-an-ip"}); err == nil {
		t.Fatal("NewSources accepted a malformed proxy")
	}
}
