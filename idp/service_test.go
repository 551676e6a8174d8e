package idp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
)

// countingFactory builds placeholder connectors and counts the builds: the
// cache's behaviour, not a protocol, is under test here.
func countingFactory(n *atomic.Int32) Factory {
	return func(context.Context, FactoryInput) (Connector, error) {
		n.Add(1)
		return new(int), nil
	}
}

func newTestService(t *testing.T, issuer string, f Factory) (*Service, *directory.SQLStore) {
	t.Helper()
	dir := directorytest.SQLite(t)
	mem := session.NewMemory(session.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	s, err := New(Options{Issuer: issuer, Directory: dir, Sessions: mem, Connectors: Registry{directory.ConnectionOIDC: f}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dir
}

func TestNewRefusesAnUnusableIssuer(t *testing.T) {
	dir := directorytest.SQLite(t)
	mem := session.NewMemory(session.Options{})
	defer mem.Close()
	reg := Registry{directory.ConnectionOIDC: countingFactory(new(atomic.Int32))}
	for _, iss := range []string{"", "sso.example.com", "ftp://sso.example.com", "https://sso.example.com?x=1", "https://"} {
		if _, err := New(Options{Issuer: iss, Directory: dir, Sessions: mem, Connectors: reg}); err == nil {
			t.Errorf("issuer %q accepted", iss)
		}
	}
	if _, err := New(Options{Issuer: "https://sso.example.com", Sessions: mem, Connectors: reg}); err == nil {
		t.Error("no directory accepted")
	}
}

func TestCookiesAreSecureOnAnHTTPSIssuer(t *testing.T) {
	for iss, secure := range map[string]bool{"https://sso.example.com/base": true, "http://127.0.0.1:8080": false} {
		s, _ := newTestService(t, iss, countingFactory(new(atomic.Int32)))
		mux := http.NewServeMux()
		s.Routes(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
		c := (&http.Response{Header: rec.Header()}).Cookies()
		if len(c) != 1 || c[0].Name != CSRFCookie || c[0].Secure != secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode {
			t.Fatalf("%s: cookies %+v", iss, c)
		}
		if want := s.base + LoginPath; !strings.Contains(rec.Body.String(), `action="`+want+`"`) {
			t.Fatalf("%s: the form does not post to %s", iss, want)
		}
	}
}

func TestCallbackURLs(t *testing.T) {
	s, _ := newTestService(t, "https://sso.example.com/", countingFactory(new(atomic.Int32)))
	if got := s.CallbackURL(directory.Connection{ID: "conn_1", Type: directory.ConnectionOIDC}); got != "https://sso.example.com/sso/oidc/conn_1/callback" {
		t.Fatal(got)
	}
	if got := s.CallbackURL(directory.Connection{ID: "conn_2", Type: directory.ConnectionSAML}); got != "https://sso.example.com/sso/saml/conn_2/acs" {
		t.Fatal(got)
	}
}

func TestADirectoryChangeDropsTheConnectorsOfChangedConnections(t *testing.T) {
	var builds atomic.Int32
	s, dir := newTestService(t, "http://127.0.0.1:8080", countingFactory(&builds))
	ctx := context.Background()
	o, _, err := dir.CreateOrg(ctx, "test", directory.NewOrg{Name: "Sweep"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dir.CreateConnection(ctx, "test", directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "a", Enabled: true, Config: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := dir.CreateConnection(ctx, "test", directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "b", Enabled: true, Config: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, conn := range []directory.Connection{c, keep} {
		if _, err := s.connector(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	if s.cache.len() != 2 {
		t.Fatalf("%d cached", s.cache.len())
	}
	c.Enabled = false
	if _, err := dir.UpdateConnection(ctx, "test", c); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.cache.len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the disabled connection's connector is still cached (%d entries)", s.cache.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.connector(ctx, keep); err != nil || builds.Load() != 2 {
		t.Fatalf("the unchanged connection's connector was rebuilt (%d builds, %v)", builds.Load(), err)
	}
}
