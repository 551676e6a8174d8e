package scim_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// BenchmarkInitialSync10k is an identity provider's first sync on
// PostgreSQL: 10,000 POST /Users (each after its GET userName eq query, as
// Entra ID and Okta do), then 1,000 user PATCHes. It reports the whole
// sync's seconds and the PATCH p99. Run with -benchtime=1x:
//
//	go test -run '^$' -bench InitialSync10k -benchtime=1x ./directory/scim/
func BenchmarkInitialSync10k(b *testing.B) { initialSync(b, 10000) }

// BenchmarkInitialSync1k is BenchmarkInitialSync10k at a tenth of the size
// (1,000 users, 100 PATCHes): the size the benchmark report runs
// (docs/bench/README.md).
func BenchmarkInitialSync1k(b *testing.B) { initialSync(b, 1000) }

func initialSync(b *testing.B, users int) {
	store := directorytest.Postgres(b)
	for b.Loop() {
		e := newEnv(b, store)
		start := time.Now()
		ids := make([]string, 0, users)
		for i := range users {
			name := fmt.Sprintf("user%05d@sync.example", i)
			if a := benchDo(b, e, "GET", "/Users?filter=userName%20eq%20%22"+name+"%22", ""); a.code != 200 {
				b.Fatalf("query %d: %s", i, a.raw)
			}
			a := benchDo(b, e, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`","externalId":"ext-`+fmt.Sprint(i)+`","name":{"givenName":"U","familyName":"`+fmt.Sprint(i)+`"},"active":true}`)
			if a.code != 201 {
				b.Fatalf("create %d: %s", i, a.raw)
			}
			ids = append(ids, a.str("id"))
		}
		sync := time.Since(start)
		lat := make([]time.Duration, 0, users/10)
		for i := range users / 10 {
			t0 := time.Now()
			a := benchDo(b, e, "PATCH", "/Users/"+ids[i*10], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"name.familyName","value":"p`+fmt.Sprint(i)+`"}]}`)
			lat = append(lat, time.Since(t0))
			if a.code != 200 {
				b.Fatalf("patch %d: %s", i, a.raw)
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(sync.Seconds(), "sync-s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "patch-p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "patch-p50-ms")
	}
}

// benchDo is env.do that keeps no answers for validation.
func benchDo(b *testing.B, e *env, method, path, body string) answer {
	b.Helper()
	a := e.doAs(e.secret, e.org.ID, method, path, body)
	e.answers = e.answers[:0]
	return a
}
