package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/idp/console"
)

var _ console.Store = (*countingStore)(nil)

// bigOrg builds an org with members, workspaces and service accounts on a
// SQLite store, and a console over a counting wrapper of it.
type bigOrg struct {
	*fixture
	counter *countingStore
	ws      directory.Workspace
	sa      directory.ServiceAccount
	someone string
}

func newBigOrg(b testing.TB, members, workspaces, serviceAccounts int) *bigOrg {
	f := newFixture(b, directorytest.SQLite)
	o := &bigOrg{fixture: f}
	var ids []string
	for i := 0; i < members; i++ {
		u, err := f.store.CreateUser(bg, "bench", directory.NewUser{Email: fmt.Sprintf("user%05d@acme.test", i), EmailVerified: true, Name: fmt.Sprintf("User %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.store.AddMember(bg, "bench", f.org.ID, u.ID, access.RolePlatformMember); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	o.someone = ids[0]
	for i := 0; i < workspaces; i++ {
		ws, err := f.store.CreateWorkspace(bg, "bench", f.org.ID, fmt.Sprintf("ws-%04d", i), "")
		if err != nil {
			b.Fatal(err)
		}
		// Ten members a workspace, so that membership lists are not empty.
		for j := 0; j < 10 && j < len(ids); j++ {
			if _, err := f.store.PutWorkspaceMember(bg, "bench", f.org.ID, ws.ID, ids[(i*10+j)%len(ids)], access.Membership{Role: access.WorkspaceMember}); err != nil {
				b.Fatal(err)
			}
		}
		if i == 0 {
			o.ws = ws
		}
	}
	for i := 0; i < serviceAccounts; i++ {
		sa, err := f.store.CreateServiceAccount(bg, "bench", directory.NewServiceAccount{OrgID: f.org.ID, Name: fmt.Sprintf("sa-%02d", i), Role: access.RolePlatformMember})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := f.store.CreateAPIKey(bg, "bench", f.org.ID, sa.ID); err != nil {
			b.Fatal(err)
		}
		o.sa = sa
	}
	o.counter = &countingStore{s: f.store}
	c, err := console.New(console.Config{Issuer: "http://sso.test", Store: o.counter, Sessions: f.sessions, Key: []byte(strings.Repeat("k", 32))})
	if err != nil {
		b.Fatal(err)
	}
	f.mux = http.NewServeMux()
	c.Routes(f.mux)
	return o
}

// pages are every console page, with a paginated list's second page where
// there is one.
func (o *bigOrg) pages() []string {
	p := o.path
	return []string{p("/general"), p("/workspaces"), p("/workspaces?q=ws-01"), p("/workspaces?after=" + o.ws.ID),
		p("/workspaces/" + o.ws.ID), p("/workspaces/" + o.ws.ID + "?q=user"), p("/users"), p("/users?q=user%2000"),
		p("/users?after=" + o.someone), p("/users?inv_q=x&req_q=y"), p("/users/" + o.someone),
		p("/settings"), p("/service-accounts"), p("/service-accounts?q=sa-0"), p("/service-accounts/" + o.sa.ID), p("/billing"), p("/audit"),
		p("/audit?action=member.add"), p("/connections"), p("/domains"), "/account"}
}

// storeCalls renders path once and returns the number of store calls it made.
func (o *bigOrg) storeCalls(t testing.TB, path string) int64 {
	before := o.counter.calls.Load()
	r := o.get(o.admin, path)
	if r.Code != http.StatusOK {
		t.Fatalf("%s: status %d", path, r.Code)
	}
	return o.counter.calls.Load() - before
}

// BenchmarkConsolePages renders every console page of an org with 5,000
// members, 500 workspaces and 50 service accounts (SQLite), and reports the
// p99 server time and the store calls of each page.
//
//	go test -run '^$' -bench ConsolePages -benchtime 200x ./idp/console/
func BenchmarkConsolePages(b *testing.B) {
	o := newBigOrg(b, 5000, 500, 50)
	for _, path := range o.pages() {
		b.Run(strings.TrimPrefix(path, "/admin/"+o.org.ID), func(b *testing.B) {
			o.get(o.admin, path) // warm the caches
			times := make([]time.Duration, 0, b.N)
			var calls int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := o.counter.calls.Load()
				start := time.Now()
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Cookie", o.admin.cookie)
				rec := httptest.NewRecorder()
				o.mux.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				calls += o.counter.calls.Load() - before
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[(len(times)*99)/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(calls)/float64(b.N), "store-calls/op")
		})
	}
}

// TestStoreCallsDoNotGrowWithTheOrg checks that every console page makes
// exactly the same number of store calls for an org of 60 members,
// 10 workspaces and 3 service accounts as for one of 600 members,
// 120 workspaces and 12 service accounts: the Users page fetches the
// workspaces of a whole page of members in one call, Billing counts in one
// query, the searches are one query each.
func TestStoreCallsDoNotGrowWithTheOrg(t *testing.T) {
	small, large := newBigOrg(t, 60, 10, 3), newBigOrg(t, 600, 120, 12)
	sp, lp := small.pages(), large.pages()
	for i := range sp {
		s, l := small.storeCalls(t, sp[i]), large.storeCalls(t, lp[i])
		name := strings.TrimPrefix(sp[i], "/admin/"+small.org.ID)
		if s != l {
			t.Errorf("%s: %d store calls for the small org, %d for the large one", name, s, l)
		}
		t.Logf("%s: %d store calls", name, s)
	}
}
