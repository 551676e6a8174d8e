package session

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ValidateURL reports whether NewRedis can use rawURL, without connecting.
// It is the one check of the Redis URL forms (the startup configuration
// check calls it; NewRedis applies the same parse): see NewRedis for the
// forms. The error, which matches ErrInvalid, says what is wrong without
// repeating the URL, so it never shows a password.
func ValidateURL(rawURL string) error {
	_, err := parseRedisURL(rawURL)
	return err
}

// URLForms lists the Redis URL forms NewRedis accepts, for help texts.
const URLForms = "redis://host:port/db, rediss:// (TLS), comma-separated URLs or host:port seeds (Cluster), " +
	"redis+cluster://, redis+sentinel://host:port?master_name=NAME or any redis:// URL with master_name (Sentinel), " +
	"unix:///path/to/socket or redis+unix:///path/to/socket (?db=N)"

// invalidURL is a Redis URL NewRedis cannot use. It matches ErrInvalid.
type invalidURL string

func (e invalidURL) Error() string        { return string(e) }
func (e invalidURL) Is(target error) bool { return target == ErrInvalid }

// redisTarget is a parsed Redis URL: the deployment and the go-redis
// options of the client that reaches it (exactly one of the three is set).
type redisTarget struct {
	mode     string
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

// parseRedisURL turns rawURL into the client options NewRedis uses. Errors
// are invalidURL.
func parseRedisURL(rawURL string) (redisTarget, error) {
	invalid := func(format string, a ...any) error {
		return invalidURL(fmt.Sprintf(format, a...))
	}
	var parts []string
	for _, p := range strings.Split(rawURL, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return redisTarget{}, invalid("empty")
	}
	u, err := url.Parse(parts[0])
	if err != nil {
		// url.Error repeats the URL, which may hold a password.
		return redisTarget{}, invalid("cannot parse the first URL")
	}
	mode := ModeSingle
	switch u.Scheme {
	case "redis", "rediss":
		if u.Query().Has("master_name") {
			mode = ModeSentinel
		} else if len(parts) > 1 {
			mode = ModeCluster
		}
	case "redis+sentinel", "rediss+sentinel":
		mode = ModeSentinel
	case "redis+cluster", "rediss+cluster":
		mode = ModeCluster
	case "unix", "redis+unix":
		if len(parts) > 1 {
			return redisTarget{}, invalid("unix sockets cannot form a cluster")
		}
		if u.Host != "" {
			return redisTarget{}, invalid("a unix socket URL has no host: write unix:///path/to/socket (three slashes)")
		}
		u.Scheme = "unix"
	default:
		return redisTarget{}, invalid("scheme %q: use redis, rediss, redis+cluster, redis+sentinel, unix or redis+unix", u.Scheme)
	}
	u.Scheme = strings.TrimSuffix(strings.TrimSuffix(u.Scheme, "+sentinel"), "+cluster")
	q := u.Query()
	for _, p := range parts[1:] {
		addr, err := extraAddr(p, u)
		if err != nil {
			return redisTarget{}, invalid("%v", err)
		}
		q.Add("addr", addr)
	}
	u.RawQuery = q.Encode()
	// One dial per attempt unless the URL says otherwise: go-redis already
	// retries each command (max_retries, default 3), and its default of five
	// dials per attempt makes every call take ~1.7 s while Redis is down.
	dialerRetries := func(n int) int {
		if q.Has("dialer_retries") {
			return n
		}
		return 1
	}

	switch mode {
	case ModeSentinel:
		if q.Get("master_name") == "" {
			return redisTarget{}, invalid("sentinel needs master_name")
		}
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return redisTarget{}, invalid("%v", scrub(err))
		}
		o.ContextTimeoutEnabled = true
		o.DialerRetries = dialerRetries(o.DialerRetries)
		return redisTarget{mode: mode, failover: o}, nil
	case ModeCluster:
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return redisTarget{}, invalid("%v", scrub(err))
		}
		o.ContextTimeoutEnabled = true
		o.DialerRetries = dialerRetries(o.DialerRetries)
		return redisTarget{mode: mode, cluster: o}, nil
	default:
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return redisTarget{}, invalid("%v", scrub(err))
		}
		o.ContextTimeoutEnabled = true
		o.DialerRetries = dialerRetries(o.DialerRetries)
		return redisTarget{mode: mode, single: o}, nil
	}
}

// extraAddr returns host:port of a second or later element of a
// comma-separated Redis URL list, which must not disagree with the first.
func extraAddr(p string, first *url.URL) (string, error) {
	if !strings.Contains(p, "://") {
		if h, port, err := net.SplitHostPort(p); err != nil || h == "" || port == "" {
			// Not quoted: it may be part of a password with a bare comma.
			return "", errors.New("a later element is neither a URL nor host:port (percent-encode a comma in a password as %2C)")
		}
		return p, nil
	}
	u, err := url.Parse(p)
	if err != nil {
		return "", errors.New("cannot parse a later URL")
	}
	scheme := strings.TrimSuffix(strings.TrimSuffix(u.Scheme, "+sentinel"), "+cluster")
	if scheme != first.Scheme || u.User.String() != first.User.String() ||
		strings.Trim(u.Path, "/") != strings.Trim(first.Path, "/") || (u.RawQuery != "" && u.RawQuery != first.RawQuery) {
		return "", errors.New("later URLs must match the first's scheme, credentials, path and options (or be host:port)")
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "6379"), nil
	}
	return u.Host, nil
}

// scrub drops a *url.Error's URL, which may contain a password.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
