package oauth

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// Sign-out clears the session cookie with the attributes sign-in set it
// with (session.BrowserCookie): with SSOBROKER_SESSION_COOKIE_DOMAIN the
// cookie of that domain — the one Opik's UI on a sibling host received —
// and a stale host-only one; without it, the host-only one alone.
func TestLogoutClearsTheSessionCookieOfTheConfiguredDomain(t *testing.T) {
	for _, c := range []struct {
		domain  string
		cleared []string // the Domain of each deletion, "" for host-only
	}{
		{"example.test", []string{"", "example.test"}},
		{"", []string{""}},
	} {
		t.Run("domain="+c.domain, func(t *testing.T) {
			e := newOIDCEnv(t, directorytest.SQLite(t), memorySessions(t),
				func(s *oidcSetup) { s.provider.CookieDomain = c.domain })
			b := e.browser()
			r := e.codeFlow(b, nil)
			sid := b.cookie(session.CookieName)
			req, _ := http.NewRequest(http.MethodGet, e.iss+tokens.PathLogout+"?"+url.Values{"id_token_hint": {r.str("id_token")}}.Encode(), nil)
			req.AddCookie(&http.Cookie{Name: session.CookieName, Value: sid})
			resp, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			var got []string
			for _, sc := range resp.Cookies() {
				if sc.Name != session.CookieName {
					continue
				}
				if sc.MaxAge >= 0 || sc.Value != "" || sc.Path != "/" || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode {
					t.Errorf("Set-Cookie %q does not delete the session cookie as sign-in set it", sc.Raw)
				}
				got = append(got, sc.Domain)
			}
			if len(got) != len(c.cleared) {
				t.Fatalf("sign-out deleted session cookies for domains %q, want %q", got, c.cleared)
			}
			for i := range got {
				if got[i] != c.cleared[i] {
					t.Fatalf("sign-out deleted session cookies for domains %q, want %q", got, c.cleared)
				}
			}
			if _, err := e.sessions.GetSession(t.Context(), sid); err == nil {
				t.Fatal("session still alive after sign-out")
			}
		})
	}
}
