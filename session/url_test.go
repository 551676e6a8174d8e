package session

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisURLModes(t *testing.T) {
	for _, c := range []struct {
		url  string
		mode string
		addr []string // cluster seeds or sentinels; single: the address
	}{
		{"redis://127.0.0.1:6379/0", ModeSingle, []string{"127.0.0.1:6379"}},
		{"rediss://user:pw@cache.example.com:6380/2?dial_timeout=2s", ModeSingle, []string{"cache.example.com:6380"}},
		{"redis://a:7000,redis://b:7001, redis://c:7002", ModeCluster, []string{"a:7000", "b:7001", "c:7002"}},
		{"redis://:pw@a:7000,b:7001,c", ModeCluster, nil},
		{"redis://a:7000,b:7001", ModeCluster, []string{"a:7000", "b:7001"}},
		{"redis://a:7000/0,redis://b:7001/0", ModeCluster, []string{"a:7000", "b:7001"}},
		{"redis+sentinel://s1:26379?master_name=m,redis+sentinel://s2:26379?master_name=m", ModeSentinel, []string{"s1:26379", "s2:26379"}},
		{"redis+cluster://a:7000", ModeCluster, []string{"a:7000"}},
		{"redis+cluster://a:7000?addr=b:7001", ModeCluster, []string{"a:7000", "b:7001"}},
		{"redis+sentinel://s1:26379/1?master_name=mymaster", ModeSentinel, []string{"s1:26379"}},
		{"redis://s1:26379?master_name=mymaster,s2:26379", ModeSentinel, []string{"s1:26379", "s2:26379"}},
	} {
		t.Run(c.url, func(t *testing.T) {
			client, mode, err := newRedisClient(c.url)
			if c.addr == nil {
				if err == nil {
					_ = client.Close()
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid (bare host without port)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if mode != c.mode {
				t.Fatalf("mode %s, want %s", mode, c.mode)
			}
			var got []string
			switch cl := client.(type) {
			case *redis.ClusterClient:
				got = cl.Options().Addrs
			case *redis.Client:
				if mode == ModeSingle {
					got = []string{cl.Options().Addr}
				} else {
					got = c.addr // go-redis does not expose the sentinel list of a failover client
				}
			}
			if strings.Join(got, ",") != strings.Join(c.addr, ",") {
				t.Fatalf("addresses %v, want %v", got, c.addr)
			}
		})
	}
}

func TestRedisURLInvalid(t *testing.T) {
	for _, u := range []string{
		"",
		" , ",
		"http://127.0.0.1:6379",
		"redis+sentinel://s1:26379",
		"redis://:secretpw@a:7000,redis://:other@b:7001",
		"redis://a:7000?bogus_option=1",
		"unix:///tmp/r.sock,unix:///tmp/s.sock",
	} {
		client, _, err := newRedisClient(u)
		if err == nil {
			_ = client.Close()
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: got %v, want ErrInvalid", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%q: error reveals the password: %v", u, err)
		}
	}
}

func TestTokenShape(t *testing.T) {
	id := NewFamilyID()
	tok := newToken(id)
	got, ok := splitToken(tok)
	if !ok || got != id {
		t.Fatalf("splitToken(%d chars) = %q, %v", len(tok), got, ok)
	}
	for _, bad := range []string{"", ".", id + ".", "." + newSecret(), id + "." + newSecret() + "x", "a{b}." + newSecret()} {
		if _, ok := splitToken(bad); ok {
			t.Errorf("splitToken accepted %q", bad)
		}
	}
	if s := newSecret(); !validID(s) || len(s) != 43 {
		t.Fatalf("session id %d chars", len(s))
	}
}
