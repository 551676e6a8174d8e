package oauth

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/session"
)

func TestUserInfo(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r := e.codeFlow(e.browser(), nil)
		at := r.str("access_token")
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			resp, info := e.userinfo(method, at)
			if resp.StatusCode != 200 || info["sub"] != e.user.ID || info["email"] != e.user.Email || info["name"] != "Ada Lovelace" ||
				resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: %d %v", method, resp.StatusCode, info)
			}
			org, _ := info["org"].(map[string]any)
			ws, _ := info["workspaces"].([]any)
			if org["id"] != e.org.ID || org["role"] != "platform_member" || len(ws) != 1 {
				t.Fatalf("%s: org %v workspaces %v", method, org, ws)
			}
		}
		t.Run("scope decides email and name", func(t *testing.T) {
			r := e.codeFlow(e.browser(), url.Values{"scope": {"openid"}})
			_, info := e.userinfo(http.MethodGet, r.str("access_token"))
			if info["sub"] != e.user.ID || info["email"] != nil || info["name"] != nil || info["email_verified"] != nil {
				t.Fatalf("%v", info)
			}
		})
		wantChallenge := func(t *testing.T, resp *http.Response, status int, errCode string) {
			t.Helper()
			h := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != status || !strings.HasPrefix(h, `Bearer realm="ssobroker"`) ||
				(errCode != "" && !strings.Contains(h, `error="`+errCode+`"`)) || (errCode == "" && strings.Contains(h, "error=")) {
				t.Fatalf("%d %q, want %d %s", resp.StatusCode, h, status, errCode)
			}
		}
		t.Run("no token", func(t *testing.T) {
			resp, _ := e.userinfo(http.MethodGet, "")
			wantChallenge(t, resp, 401, "")
		})
		t.Run("invalid token", func(t *testing.T) {
			resp, _ := e.userinfo(http.MethodGet, at+"x")
			wantChallenge(t, resp, 401, "invalid_token")
		})
		t.Run("ID token instead of an access token", func(t *testing.T) {
			resp, _ := e.userinfo(http.MethodGet, r.str("id_token"))
			wantChallenge(t, resp, 401, "invalid_token")
		})
		t.Run("revoked jti", func(t *testing.T) {
			r := e.codeFlow(e.browser(), nil)
			_, c := claimsOf(t, r.str("access_token"))
			if err := e.store.RevokeToken(context.Background(), c.JWTID, unixTime(c.ExpiresAt)); err != nil {
				t.Fatal(err)
			}
			resp, _ := e.userinfo(http.MethodGet, r.str("access_token"))
			wantChallenge(t, resp, 401, "invalid_token")
		})
		t.Run("without openid scope", func(t *testing.T) {
			r := e.codeFlow(e.browser(), url.Values{"scope": {"email"}})
			resp, _ := e.userinfo(http.MethodGet, r.str("access_token"))
			wantChallenge(t, resp, 403, "insufficient_scope")
		})
		t.Run("service account token", func(t *testing.T) {
			sa, secret := newEnvLikeServiceAccount(t, e)
			tr := e.token(url.Values{"grant_type": {"client_credentials"}}, sa, secret)
			resp, _ := e.userinfo(http.MethodGet, tr.str("access_token"))
			wantChallenge(t, resp, 403, "insufficient_scope")
		})
		t.Run("token in the query", func(t *testing.T) {
			resp, err := http.Get(e.iss + tokens.PathUserInfo + "?access_token=" + url.QueryEscape(at))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			wantChallenge(t, resp, 400, "invalid_request")
		})
		t.Run("member removed", func(t *testing.T) {
			u := e.newMember(e.org.ID, "kay-"+randomSuffix()+"@acme.example", "Kay", "platform_member")
			e.setSignIn(func(id *identity) { id.userID = u.ID })
			defer e.setSignIn(func(id *identity) { id.userID = e.user.ID })
			r := e.codeFlow(e.browser(), nil)
			if err := e.store.RemoveMember(context.Background(), "system:test", e.org.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			resp, _ := e.userinfo(http.MethodGet, r.str("access_token"))
			wantChallenge(t, resp, 401, "invalid_token")
		})
	})
}

func newEnvLikeServiceAccount(t *testing.T, e *oidcEnv) (string, string) {
	t.Helper()
	ctx := context.Background()
	sa, err := e.store.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: e.org.ID,
		Name: "bot-" + randomSuffix(), Role: access.RolePlatformMember})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := e.store.CreateAPIKey(ctx, "system:test", e.org.ID, sa.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sa.ID, secret
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestRPInitiatedLogout(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		signedIn := func(t *testing.T) (*browser, string, string) {
			b := e.browser()
			r := e.codeFlow(b, nil)
			return b, r.str("id_token"), b.cookie(session.CookieName)
		}
		sessionGone := func(t *testing.T, id string) {
			t.Helper()
			if _, err := e.sessions.GetSession(ctx, id); err == nil {
				t.Fatal("session still alive")
			}
		}
		logoutURL := func(v url.Values) string { return e.iss + tokens.PathLogout + "?" + v.Encode() }

		t.Run("id_token_hint and registered post_logout_redirect_uri", func(t *testing.T) {
			b, idt, sid := signedIn(t)
			o := b.navigate(logoutURL(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {appPostLogout}, "state": {"bye"}}))
			if o.callback == nil || o.callback.String() != appPostLogout+"?state=bye" {
				t.Fatalf("%d %v %s", o.status, o.callback, o.body)
			}
			sessionGone(t, sid)
			if b.cookie(session.CookieName) != "" {
				t.Fatal("session cookie not cleared")
			}
		})
		t.Run("client_id and registered post_logout_redirect_uri without hint asks first", func(t *testing.T) {
			b, _, sid := signedIn(t)
			o := b.navigate(logoutURL(url.Values{"client_id": {e.public.ID}, "post_logout_redirect_uri": {appPostLogout}, "state": {"s"}}))
			m := csrfField.FindStringSubmatch(o.body)
			if o.status != 200 || o.callback != nil || m == nil {
				t.Fatalf("no confirmation: %d %v", o.status, o.callback)
			}
			if _, err := e.sessions.GetSession(ctx, sid); err != nil {
				t.Fatal("signed out without confirmation")
			}
			// A forged POST without the cookie's token is not a confirmation.
			forged := e.browser()
			forged.c.Jar.SetCookies(forged.base, []*http.Cookie{{Name: session.CookieName, Value: sid}})
			if o := forged.do(http.MethodPost, e.iss+tokens.PathLogout, url.Values{"csrf": {tokens.RandomToken()}, "client_id": {e.public.ID}}); o.callback != nil || !strings.Contains(o.body, "csrf") {
				t.Fatalf("forged confirmation: %d %v", o.status, o.callback)
			}
			if _, err := e.sessions.GetSession(ctx, sid); err != nil {
				t.Fatal("signed out by a forged form")
			}
			o = b.do(http.MethodPost, e.iss+tokens.PathLogout, url.Values{"csrf": {m[1]}, "client_id": {e.public.ID},
				"post_logout_redirect_uri": {appPostLogout}, "state": {"s"}})
			if o.callback == nil || o.callback.String() != appPostLogout+"?state=s" {
				t.Fatalf("after confirmation: %d %v", o.status, o.callback)
			}
			sessionGone(t, sid)
		})
		t.Run("inexact post_logout_redirect_uri is never followed", func(t *testing.T) {
			for _, u := range []string{appPostLogout + "/", appPostLogout + "?x=1", "https://evil.example/", strings.ToUpper(appPostLogout),
				appPostLogout + "#frag", "//evil.example", "/local"} {
				b, idt, sid := signedIn(t)
				o := b.navigate(logoutURL(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {u}}))
				if o.callback != nil || o.status != 200 || !strings.Contains(o.body, "signed out") {
					t.Fatalf("%s: %d %v", u, o.status, o.callback)
				}
				sessionGone(t, sid)
			}
		})
		t.Run("post_logout_redirect_uri of another client", func(t *testing.T) {
			other, _ := e.newClient(true, nil, "https://other.example/bye")
			b, idt, _ := signedIn(t)
			o := b.navigate(logoutURL(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://other.example/bye"}}))
			if o.callback != nil {
				t.Fatalf("redirected to another client's URI: %v", o.callback)
			}
			o = b.navigate(logoutURL(url.Values{"id_token_hint": {idt}, "client_id": {other.ID}, "post_logout_redirect_uri": {"https://other.example/bye"}}))
			if o.status != 400 || o.callback != nil {
				t.Fatalf("client_id disagreeing with the hint: %d %v", o.status, o.callback)
			}
		})
		t.Run("forged or foreign id_token_hint", func(t *testing.T) {
			b, idt, sid := signedIn(t)
			parts := strings.Split(idt, ".")
			for _, bad := range []string{parts[0] + "." + parts[1] + "." + b64enc("sig"), "a.b.c", "junk"} {
				o := b.navigate(logoutURL(url.Values{"id_token_hint": {bad}, "post_logout_redirect_uri": {appPostLogout}}))
				if o.status != 400 || o.callback != nil {
					t.Fatalf("%d %v", o.status, o.callback)
				}
			}
			if _, err := e.sessions.GetSession(ctx, sid); err != nil {
				t.Fatal("a forged hint signed the user out")
			}
		})
		t.Run("expired id_token_hint still identifies the user", func(t *testing.T) {
			b, idt, sid := signedIn(t)
			e.clock.Advance(tokens.DefaultIDTokenTTL + tokens.DefaultLeeway + 1)
			defer e.clock.Advance(-(tokens.DefaultIDTokenTTL + tokens.DefaultLeeway + 1))
			o := b.navigate(logoutURL(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {appPostLogout}}))
			if o.callback == nil || o.callback.String() != appPostLogout {
				t.Fatalf("%d %v", o.status, o.callback)
			}
			sessionGone(t, sid)
		})
		t.Run("hint of another user asks first", func(t *testing.T) {
			_, idt, _ := signedIn(t)
			u := e.newMember(e.org.ID, "bob-"+randomSuffix()+"@acme.example", "Bob", "platform_member")
			e.setSignIn(func(id *identity) { id.userID = u.ID })
			defer e.setSignIn(func(id *identity) { id.userID = e.user.ID })
			b2, _, sid2 := signedIn(t)
			o := b2.navigate(logoutURL(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {appPostLogout}}))
			if o.status != 200 || o.callback != nil || !csrfField.MatchString(o.body) {
				t.Fatalf("%d %v", o.status, o.callback)
			}
			if _, err := e.sessions.GetSession(ctx, sid2); err != nil {
				t.Fatal("another user's hint signed this user out")
			}
		})
		t.Run("no session: straight to the registered URI", func(t *testing.T) {
			o := e.browser().navigate(logoutURL(url.Values{"client_id": {e.public.ID}, "post_logout_redirect_uri": {appPostLogout}}))
			if o.callback == nil || o.callback.String() != appPostLogout {
				t.Fatalf("%d %v", o.status, o.callback)
			}
			o = e.browser().navigate(logoutURL(nil))
			if o.status != 200 || !strings.Contains(o.body, "signed out") {
				t.Fatalf("%d %s", o.status, o.body)
			}
		})
		t.Run("refresh tokens survive logout (offline_access)", func(t *testing.T) {
			b := e.browser()
			r := e.codeFlow(b, nil)
			b.navigate(logoutURL(url.Values{"id_token_hint": {r.str("id_token")}}))
			if rr := e.refresh(e.public, r.str("refresh_token"), nil); rr.status != 200 {
				t.Fatalf("%d %v", rr.status, rr.body)
			}
		})
	})
}
