package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/session"
)

// TestLogoutEndsTheSessionsRefreshFamilies: issue 11 — RP-initiated logout
// left every refresh token alive. Now it ends the families granted in the
// session, except offline_access ones (they outlive the browser session by
// definition, OIDC Core §11); other sessions' families are untouched.
func TestLogoutEndsTheSessionsRefreshFamilies(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		b := e.browser()
		r := e.codeFlow(b, nil) // offline_access: a family that survives
		sid := b.cookie(session.CookieName)
		handle := sessionHandle(t, e.sessions, sid)
		online := func(user, handle string) string {
			t.Helper()
			tok, err := e.sessions.CreateRefresh(ctx, session.RefreshFamily{UserID: user, OrgID: e.org.ID, ClientID: e.public.ID,
				Scope: "openid profile", SessionID: handle})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		ofSession := online(e.user.ID, handle)
		// Another browser session of the same user keeps its families.
		b2 := e.browser()
		e.codeFlow(b2, nil)
		ofOther := online(e.user.ID, sessionHandle(t, e.sessions, b2.cookie(session.CookieName)))

		o := b.navigate(e.iss + tokens.PathLogout + "?" + url.Values{"id_token_hint": {r.str("id_token")}, "post_logout_redirect_uri": {appPostLogout}}.Encode())
		if o.callback == nil {
			t.Fatalf("logout: %d %s", o.status, o.body)
		}
		if _, err := e.sessions.GetSession(ctx, sid); err == nil {
			t.Fatal("session survived logout")
		}
		if _, err := e.sessions.GetRefresh(ctx, ofSession); err == nil {
			t.Fatal("a family granted in the session without offline_access survived logout")
		}
		if _, err := e.sessions.GetRefresh(ctx, ofOther); err != nil {
			t.Fatalf("another session's family was ended: %v", err)
		}
		if rr := e.refresh(e.public, r.str("refresh_token"), nil); rr.status != http.StatusOK {
			t.Fatalf("the offline_access family did not survive logout: %d %v", rr.status, rr.body)
		}
	})
}

// TestLogoutRefusesALongExpiredHint: issue 11 — logout accepted an
// id_token_hint whatever its age. It is accepted up to LogoutHintGrace past
// its exp (and identifies the user), refused with a page after; the session
// stays.
func TestLogoutRefusesALongExpiredHint(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		logout := func(b *browser, idt string) outcome {
			return b.navigate(e.iss + tokens.PathLogout + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {appPostLogout}}.Encode())
		}
		// Just within the grace: accepted.
		b := e.browser()
		r := e.codeFlow(b, nil)
		within := tokens.DefaultIDTokenTTL + tokens.LogoutHintGrace - tokens.DefaultLeeway
		e.clock.Advance(within)
		o := logout(b, r.str("id_token"))
		e.clock.Advance(-within)
		if o.callback == nil || o.callback.String() != appPostLogout {
			t.Fatalf("hint within the grace: %d %v %s", o.status, o.callback, o.body)
		}

		// Past it: an error page, no redirect, still signed in.
		b = e.browser()
		r = e.codeFlow(b, nil)
		sid := b.cookie(session.CookieName)
		past := tokens.DefaultIDTokenTTL + tokens.LogoutHintGrace + tokens.DefaultLeeway
		e.clock.Advance(past)
		defer e.clock.Advance(-past)
		o = logout(b, r.str("id_token"))
		if o.status != http.StatusBadRequest || o.callback != nil || !strings.Contains(o.body, "expired") {
			t.Fatalf("hint past the grace: %d %v", o.status, o.callback)
		}
		if _, err := e.sessions.GetSession(ctx, sid); err != nil {
			t.Fatalf("signed out by a stale hint: %v", err)
		}
	})
}

// TestSessionBoundRefreshTokenEndsWithTheSession: a client allowed refresh
// tokens that asks for openid without offline_access gets a session-bound
// refresh token: it works while the browser session lives, never outlives the
// session's absolute expiry, and RP-initiated logout ends it.
func TestSessionBoundRefreshTokenEndsWithTheSession(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		b := e.browser()
		r := e.codeFlow(b, url.Values{"scope": {"openid email"}})
		if r.status != http.StatusOK || r.str("refresh_token") == "" || r.str("scope") != "openid email" {
			t.Fatalf("openid without offline_access: %d %v", r.status, r.body)
		}
		sess, err := e.sessions.GetSession(ctx, b.cookie(session.CookieName))
		if err != nil {
			t.Fatal(err)
		}
		fam, err := e.sessions.GetRefresh(ctx, r.str("refresh_token"))
		if err != nil {
			t.Fatal(err)
		}
		if fam.ExpiresAt.After(sess.AbsoluteExpiry) || fam.SessionID != sess.Handle {
			t.Fatalf("family ends %v, session %v; family sid %q, session handle %q", fam.ExpiresAt, sess.AbsoluteExpiry, fam.SessionID, sess.Handle)
		}
		rr := e.refresh(e.public, r.str("refresh_token"), nil)
		if rr.status != http.StatusOK || rr.str("refresh_token") == "" {
			t.Fatalf("refresh while signed in: %d %v", rr.status, rr.body)
		}
		o := b.navigate(e.iss + tokens.PathLogout + "?" + url.Values{"id_token_hint": {r.str("id_token")}, "post_logout_redirect_uri": {appPostLogout}}.Encode())
		if o.callback == nil {
			t.Fatalf("logout: %d %s", o.status, o.body)
		}
		if rr := e.refresh(e.public, rr.str("refresh_token"), nil); rr.status != http.StatusBadRequest || rr.str("error") != "invalid_grant" {
			t.Fatalf("session-bound refresh token after logout: %d %v", rr.status, rr.body)
		}
	})
}
