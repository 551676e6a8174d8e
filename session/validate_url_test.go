package session

import (
	"errors"
	"strings"
	"testing"
)

// ValidateURL and NewRedis share one parse: every form ValidateURL accepts
// builds a client of the expected mode, and every refusal matches ErrInvalid
// with a message that never repeats a password.
func TestValidateURL(t *testing.T) {
	for _, c := range []struct{ url, mode string }{
		{"redis://127.0.0.1:6379/0", ModeSingle},
		{"rediss://user:pw@cache.example.com:6380/2?dial_timeout=2s", ModeSingle},
		{"unix:///run/redis/redis.sock", ModeSingle},
		{"unix://:pw@/run/redis/redis.sock?db=3", ModeSingle},
		{"redis+unix:///run/redis/redis.sock?db=1", ModeSingle},
		{"redis://a:7000,redis://b:7001,c:7002", ModeCluster},
		{"redis+cluster://a:7000?addr=b:7001", ModeCluster},
		{"redis+sentinel://s1:26379/0?master_name=mymaster", ModeSentinel},
		{"redis://s1:26379?master_name=mymaster,s2:26379", ModeSentinel},
	} {
		if err := ValidateURL(c.url); err != nil {
			t.Errorf("ValidateURL(%q) = %v", c.url, err)
			continue
		}
		client, mode, err := newRedisClient(c.url)
		if err != nil {
			t.Errorf("newRedisClient(%q) = %v after ValidateURL accepted it", c.url, err)
			continue
		}
		_ = client.Close()
		if mode != c.mode {
			t.Errorf("%q: mode %s, want %s", c.url, mode, c.mode)
		}
	}
	for _, c := range []struct{ url, want string }{
		{"", "empty"},
		{"http://127.0.0.1:6379", `scheme "http"`},
		{"unix://host/run/redis.sock", "three slashes"},
		{"unix://", "empty unix socket path"},
		{"redis+sentinel://s1:26379", "master_name"},
		{"redis://:secretpw@a:7000,redis://:other@b:7001", "must match the first"},
		{"redis://:secret,pw@a:7000,b:7001", "cannot parse"},
		{"redis://a:7000,secretpw", "neither a URL nor host:port"},
		{"redis://a:7000?bogus_option=1", "bogus_option"},
		{"unix:///tmp/r.sock,unix:///tmp/s.sock", "cluster"},
	} {
		err := ValidateURL(c.url)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateURL(%q) = %v, want ErrInvalid", c.url, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateURL(%q) = %q, want it to say %q", c.url, err, c.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ValidateURL(%q) reveals the password: %v", c.url, err)
		}
	}
}
