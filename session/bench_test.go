package session_test

import (
	"context"
	"net/url"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// Compare with the raw server on the same machine, in the same run:
//
//	go test ./session/ -run '^$' -bench . -benchtime 3s
//	redis-benchmark -h 127.0.0.1 -p 6379 -t get,set -n 100000 -q
//
// ops/s is the figure to compare; BenchmarkRawRedis is go-redis GET/SET
// through the same client settings, separating our work from the client's.

type benchBackend struct {
	name string
	open func(b *testing.B) session.Store
}

// redisClients matches redis-benchmark's default of 50 parallel clients, so
// that Redis figures measure throughput rather than one client's latency.
const redisClients = 50

func setClients(b *testing.B, name string) {
	if name != "memory" {
		b.SetParallelism(max(1, redisClients/runtime.GOMAXPROCS(0)))
	}
}

func benchBackends() []benchBackend {
	return []benchBackend{
		{"memory", func(b *testing.B) session.Store {
			m := session.NewMemory(session.Options{MaxEntries: 10_000_000, MaxBytes: 1 << 32})
			b.Cleanup(func() { _ = m.Close() })
			return m
		}},
		{"redis", func(b *testing.B) session.Store {
			u, err := url.Parse(sessiontest.RedisURL())
			if err != nil {
				b.Fatal(err)
			}
			q := u.Query()
			q.Set("pool_size", strconv.Itoa(redisClients))
			u.RawQuery = q.Encode()
			return sessiontest.OpenRedis(b, u.String(), session.Options{})
		}},
	}
}

func opsPerSecond(b *testing.B, opsPerIteration int) {
	b.ReportMetric(float64(b.N*opsPerIteration)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkGetSession: the request-path read, which also slides the idle
// expiry (Redis: one EVALSHA doing HMGET, HSET, PEXPIRE).
func BenchmarkGetSession(b *testing.B) {
	for _, bk := range benchBackends() {
		b.Run(bk.name, func(b *testing.B) {
			s := bk.open(b)
			ctx := context.Background()
			setClients(b, bk.name)
			sess, err := s.CreateSession(ctx, session.Session{UserID: "usr_bench", AMR: []string{"saml"},
				Data: map[string]string{"return_to": "/admin/acme/general"}})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetSession(ctx, sess.ID); err != nil {
						b.Error(err)
						return
					}
				}
			})
			opsPerSecond(b, 1)
		})
	}
}

// BenchmarkPutTakeOnce: a login state's life, one PutOnce and one TakeOnce
// per iteration (ops/s counts both).
func BenchmarkPutTakeOnce(b *testing.B) {
	for _, bk := range benchBackends() {
		b.Run(bk.name, func(b *testing.B) {
			s := bk.open(b)
			ctx := context.Background()
			value := []byte(`{"nonce":"n-0123456789","verifier":"v-0123456789abcdef0123456789abcdef","return_to":"/"}`)
			var n atomic.Int64
			setClients(b, bk.name)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := "state-" + strconv.FormatInt(n.Add(1), 10)
					if err := s.PutOnce(ctx, session.KindLoginState, key, value, time.Minute); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.TakeOnce(ctx, session.KindLoginState, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
			opsPerSecond(b, 2)
		})
	}
}

// BenchmarkRawRedis: plain GET and SET with go-redis against the same
// server, the client-side ceiling for one round trip per operation.
func BenchmarkRawRedis(b *testing.B) {
	o, err := redis.ParseURL(sessiontest.RedisURL())
	if err != nil {
		b.Fatal(err)
	}
	o.PoolSize = redisClients
	c := redis.NewClient(o)
	defer c.Close()
	ctx := context.Background()
	key := sessiontest.RandomPrefix() + "raw"
	if err := c.Set(ctx, key, "xxx", time.Minute).Err(); err != nil {
		b.Fatalf("Redis is required (run ./.ci/test): %v", err)
	}
	defer c.Del(ctx, key)
	for _, op := range []string{"get", "set"} {
		b.Run(op, func(b *testing.B) {
			setClients(b, "redis")
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var err error
					if op == "get" {
						err = c.Get(ctx, key).Err()
					} else {
						err = c.Set(ctx, key, "xxx", time.Minute).Err()
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			opsPerSecond(b, 1)
		})
	}
}
