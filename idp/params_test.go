package idp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/session"
)

func TestReturnToAcceptsOnlyRelativePaths(t *testing.T) {
	for _, ok := range []string{"/", "/a", "/a/b?c=d&e=%2F", "/dashboard?tab=1", "/a//b", "/a%2Fb"} {
		if !ValidReturnTo(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{
		"", "a", "//evil", "///evil", `/\evil`, `\\evil`, "https://evil", "http:evil", "javascript:alert(1)",
		"/%2F/evil", "/%2f%2fevil", "/%5Cevil", "/x#y", " /x", "/x y", "/\tx", "/x\n", "/\x7f",
		"/" + strings.Repeat("a", 2048),
	} {
		if ValidReturnTo(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAuthzIsOpaqueButBounded(t *testing.T) {
	for _, ok := range []string{"a", "AZ-09_x", strings.Repeat("a", 64)} {
		if !ValidAuthz(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", strings.Repeat("a", 65), "a.b", "a b", "a/b", "ä"} {
		if ValidAuthz(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSessionCookieNameIsTheSessionPackages(t *testing.T) {
	if SessionCookie != session.CookieName {
		t.Fatalf("idp.SessionCookie %q != session.CookieName %q", SessionCookie, session.CookieName)
	}
}

func TestGroupMappingTakesTheStrongestRoles(t *testing.T) {
	cfg := ConnectionConfig{
		GroupRoles: map[string]access.OrgRole{"o": access.RoleOpikMember, "v": access.RoleViewOnly, "p": access.RolePlatformMember, "a": access.RoleAdmin},
		GroupWorkspaces: map[string]map[string]access.WorkspaceRole{
			"m": {"research": access.WorkspaceMember, "ops": access.WorkspaceMember},
			"l": {"research": access.WorkspaceOwner},
		},
	}
	for _, tc := range []struct {
		groups []string
		role   access.OrgRole
	}{
		{nil, ""}, {[]string{"x"}, ""}, {[]string{"o"}, access.RoleOpikMember}, {[]string{"o", "v"}, access.RoleViewOnly},
		{[]string{"v", "p", "o"}, access.RolePlatformMember}, {[]string{"o", "a", "p"}, access.RoleAdmin},
	} {
		if got, _ := cfg.MapGroups(tc.groups); got != tc.role {
			t.Errorf("groups %v: role %q, want %q", tc.groups, got, tc.role)
		}
	}
	_, ws := cfg.MapGroups([]string{"m", "l"})
	if ws["research"] != access.WorkspaceOwner || ws["ops"] != access.WorkspaceMember || len(ws) != 2 {
		t.Fatalf("workspaces %v", ws)
	}
	_, ws = cfg.MapGroups([]string{"l", "m"})
	if ws["research"] != access.WorkspaceOwner {
		t.Fatalf("owner must win whatever the order: %v", ws)
	}
	if _, ws = cfg.MapGroups(nil); ws == nil || len(ws) != 0 {
		t.Fatalf("with group_workspaces configured and no group, the map must be empty, not nil (the directory then removes stale mapped memberships): %v", ws)
	}
	if _, ws = (ConnectionConfig{}).MapGroups([]string{"m"}); ws != nil {
		t.Fatalf("without group_workspaces the map must be nil (no sync): %v", ws)
	}
}

func TestUpstreamAddressPolicy(t *testing.T) {
	for _, tc := range []struct {
		addr           string
		strict, permit bool // allowed with allowPrivate false / true
	}{
		{"93.184.216.34:443", true, true},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", true, true},
		{"127.0.0.1:80", false, true},
		{"[::1]:80", false, true},
		{"10.1.2.3:443", false, true},
		{"192.168.1.1:443", false, true},
		{"100.64.0.1:443", false, true},
		{"0.0.0.0:80", false, false}, // unspecified: never a configured IdP (upstream_test.go has the full table)
		{"169.254.169.254:80", false, false},
		{"[fe80::1]:80", false, false},
		{"[::ffff:169.254.169.254]:80", false, false},
		{"[::ffff:127.0.0.1]:80", false, true},
	} {
		if got := checkUpstreamAddress(tc.addr, false) == nil; got != tc.strict {
			t.Errorf("%s strict: allowed=%v", tc.addr, got)
		}
		if got := checkUpstreamAddress(tc.addr, true) == nil; got != tc.permit {
			t.Errorf("%s permissive: allowed=%v", tc.addr, got)
		}
	}
}

func TestUpstreamClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	if _, err := NewUpstreamClient(false).Get(srv.URL); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("strict client reached loopback: %v", err)
	}
	resp, err := NewUpstreamClient(true).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestUpstreamAnswersAreBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := upstreamMaxBody
		if r.URL.Path == "/big" {
			n++
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	defer srv.Close()
	c := NewUpstreamClient(true)
	for path, wantErr := range map[string]bool{"/exact": false, "/big": true} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if gotErr := errors.Is(err, errTooLarge); gotErr != wantErr {
			t.Fatalf("%s: read %d bytes, err %v", path, len(b), err)
		}
	}
}

func TestUpstreamRedirectsAreNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := NewUpstreamClient(true).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d: the redirect was followed", resp.StatusCode)
	}
}

func TestConnectorCache(t *testing.T) {
	now := time.Unix(1000, 0)
	var clock sync.Mutex
	cc := newConnectorCache(time.Hour, func() time.Time { clock.Lock(); defer clock.Unlock(); return now })
	var builds atomic.Int32
	build := func(context.Context) (Connector, error) { builds.Add(1); return new(int), nil }
	c := directory.Connection{ID: "conn_1", OrgID: "org_1", Type: directory.ConnectionOIDC, Config: []byte(`{"a":1}`)}
	ctx := context.Background()

	t.Run("one build is shared by concurrent logins", func(t *testing.T) {
		gate := make(chan struct{})
		slow := func(ctx context.Context) (Connector, error) { <-gate; return build(ctx) }
		var wg sync.WaitGroup
		got := make([]Connector, 20)
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); got[i], _ = cc.get(ctx, c, slow) }()
		}
		time.Sleep(20 * time.Millisecond)
		close(gate)
		wg.Wait()
		for _, g := range got {
			if g != got[0] || g == nil {
				t.Fatal("concurrent logins got different connectors")
			}
		}
		if builds.Load() != 1 {
			t.Fatalf("%d builds", builds.Load())
		}
	})
	t.Run("a changed configuration is rebuilt", func(t *testing.T) {
		first, _ := cc.get(ctx, c, build)
		c2 := c
		c2.Config = []byte(`{"a":2}`)
		second, _ := cc.get(ctx, c2, build)
		if first == second || builds.Load() != 2 {
			t.Fatalf("not rebuilt (%d builds)", builds.Load())
		}
	})
	t.Run("a failed build is answered for a few seconds, then retried", func(t *testing.T) {
		c3 := c
		c3.ID = "conn_3"
		boom := errors.New("discovery failed")
		if _, err := cc.get(ctx, c3, func(context.Context) (Connector, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		n := builds.Load()
		if _, err := cc.get(ctx, c3, build); !errors.Is(err, boom) || builds.Load() != n {
			t.Fatalf("retried at once: %v", err)
		}
		clock.Lock()
		now = now.Add(cc.retryAfter + time.Second)
		clock.Unlock()
		if got, err := cc.get(ctx, c3, build); err != nil || got == nil || builds.Load() != n+1 {
			t.Fatalf("not retried after the pause: %v", err)
		}
	})
	t.Run("an old connector is refreshed in the background and kept when the refresh fails", func(t *testing.T) {
		old, err := cc.get(ctx, c, build)
		if err != nil {
			t.Fatal(err)
		}
		refreshed := make(chan error, 1)
		cc.refreshFailed = func(_ string, err error) { refreshed <- err }
		clock.Lock()
		now = now.Add(2 * time.Hour)
		clock.Unlock()
		boom := errors.New("metadata URL down")
		got, err := cc.get(ctx, c, func(context.Context) (Connector, error) { return nil, boom })
		if err != nil || got != old {
			t.Fatalf("an old connector was not served while refreshing: %v", err)
		}
		if err := <-refreshed; !errors.Is(err, boom) {
			t.Fatalf("refresh failure reported as %v", err)
		}
		if got, err := cc.get(ctx, c, build); err != nil || got != old {
			t.Fatalf("the last good connector was not kept after a failed refresh: %v", err)
		}
		clock.Lock()
		now = now.Add(cc.retryAfter + time.Second)
		clock.Unlock()
		n := builds.Load()
		if _, err := cc.get(ctx, c, build); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := cc.get(ctx, c, build)
			if got != old {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not refreshed after the retry pause (%d builds, was %d)", builds.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("an idle connector is kept a day, then dropped", func(t *testing.T) {
		n := cc.len()
		clock.Lock()
		now = now.Add(20 * time.Hour)
		clock.Unlock()
		cc.dropIdle()
		if cc.len() != n {
			t.Fatalf("%d of %d connectors kept after 20 idle hours", cc.len(), n)
		}
		clock.Lock()
		now = now.Add(5 * time.Hour)
		clock.Unlock()
		cc.dropIdle()
		if cc.len() != 0 {
			t.Fatalf("%d idle connectors kept", cc.len())
		}
	})
}
