package opik_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

// sessionCalls are the three endpoints a session cookie opens, each called
// with cookie; they answer status codes in order.
func sessionCalls(f *fixture, cookie string) [3]answer {
	h := []string{"Cookie", "$Version=1;sessionToken=" + cookie}
	return [3]answer{
		f.call(http.MethodPost, opik.PathAuthSession, authBody(researchName), h...),
		f.call(http.MethodPost, opik.PathWorkspacePermissionsSess, `{"workspaceName":"`+researchName+`"}`, h...),
		f.call(http.MethodGet, opik.PathWorkspaces+"?withoutExtendedData=true", "", h...),
	}
}

var sessionPaths = [3]string{opik.PathAuthSession, opik.PathWorkspacePermissionsSess, opik.PathWorkspaces}

func wantSessionOK(t *testing.T, f *fixture, cookie, when string) {
	t.Helper()
	for i, a := range sessionCalls(f, cookie) {
		if a.status != http.StatusOK {
			t.Fatalf("%s: %s = %d %s, want 200", when, sessionPaths[i], a.status, a.body)
		}
	}
}

func wantSessionRefused(t *testing.T, f *fixture, cookie, when string) {
	t.Helper()
	for i, a := range sessionCalls(f, cookie) {
		if a.status != http.StatusUnauthorized {
			t.Fatalf("%s: %s = %d %s, want 401", when, sessionPaths[i], a.status, a.body)
		}
		wantError(t, a, http.StatusUnauthorized)
	}
}

// A session outlives neither its connection nor its membership: the
// session endpoints refuse it at the next call after an admin disables or
// deletes the connection the user signed in through, or removes the user —
// as the OpenID provider does (directory.SessionStanding, the one check).
func TestSessionsEndWithTheirConnectionAndMembership(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		plat, viewer, admin := f.callers[userPlatform], f.callers[userViewOnly], f.callers[userAdmin]
		for _, c := range []caller{plat, viewer, admin} {
			wantSessionOK(t, f, c.cookie, "before any change") // and the cache is warm
		}

		conn := f.conn
		conn.Enabled = false
		if _, err := f.store.UpdateConnection(ctx, actor, conn); err != nil {
			t.Fatal(err)
		}
		wantSessionRefused(t, f, plat.cookie, "connection disabled")
		wantSessionRefused(t, f, admin.cookie, "connection disabled, admin")
		conn.Enabled = true
		if _, err := f.store.UpdateConnection(ctx, actor, conn); err != nil {
			t.Fatal(err)
		}
		wantSessionOK(t, f, plat.cookie, "connection enabled again")

		if err := f.store.RemoveMember(ctx, actor, f.acme.ID, viewer.id); err != nil {
			t.Fatal(err)
		}
		wantSessionRefused(t, f, viewer.cookie, "member removed")
		wantSessionOK(t, f, plat.cookie, "another member is untouched")

		if err := f.store.DeleteConnection(ctx, actor, f.acme.ID, f.conn.ID); err != nil {
			t.Fatal(err)
		}
		wantSessionRefused(t, f, plat.cookie, "connection deleted")
		wantSessionRefused(t, f, admin.cookie, "connection deleted, admin")
		// API keys do not come from a sign-in and keep working.
		if a := f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", f.callers[saPlatform].key); a.status != 200 {
			t.Fatalf("API key after the connection was deleted: %d %s", a.status, a.body)
		}
	})
}

// Only a session naming a connection of its own org stands; one opened by
// an operator's sign-in link needs none.
func TestSessionMustNameItsOrgsConnection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		u := f.callers[userPlatform]
		other, err := f.store.CreateConnection(ctx, actor, directory.Connection{OrgID: f.globex.ID, Type: directory.ConnectionOIDC,
			Name: "Globex IdP", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		open := func(connID string) string {
			s, err := f.sessions.CreateSession(ctx, session.Session{UserID: u.id, OrgID: f.acme.ID, ConnectionID: connID})
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		wantSessionRefused(t, f, open(""), "a session naming no connection")
		wantSessionRefused(t, f, open(other.ID), "a session through another org's connection")
		wantSessionRefused(t, f, open("conn_unknown"), "a session through an unknown connection")
		wantSessionOK(t, f, open(directory.LinkConnection), "a session opened by a sign-in link")

		// A service account never has a browser session.
		sa := f.callers[saAdmin]
		s, err := f.sessions.CreateSession(ctx, session.Session{UserID: sa.id, OrgID: f.acme.ID, ConnectionID: f.conn.ID})
		if err != nil {
			t.Fatal(err)
		}
		wantSessionRefused(t, f, s.ID, "a session naming a service account")
	})
}

// BenchmarkAuthSession is POST /opik/auth-session warm: the session read
// from the session store and its sign-in checked by the directory's cached
// SessionStanding (no database call once warm). The sqlite+memory figure is
// the handler's own cost; postgres+redis adds a Redis round trip.
func BenchmarkAuthSession(b *testing.B) {
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			f := newFixture(b, bk.open(b), bk.sessions(b), false)
			body := []byte(authBody(researchName, "trace_span_thread_log"))
			rd := bytes.NewReader(body)
			req := httptest.NewRequest(http.MethodPost, opik.PathAuthSession, rd)
			req.Header.Set("Cookie", "$Version=1;sessionToken="+f.callers[userPlatform].cookie)
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{h: http.Header{}}
			serve := func() {
				rd.Reset(body)
				req.Body = io.NopCloser(rd)
				clear(w.h)
				w.code = 0
				f.mux.ServeHTTP(w, req)
			}
			serve()
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		})
	}
}
