package main

import (
	"testing"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// idp and tokens never import each other; the sign-in hand-off between them
// is a set of paths and a cookie name that must agree.
func TestSignInHandOffAgrees(t *testing.T) {
	for _, c := range []struct{ name, idp, tokens string }{
		{"login path", idp.LoginPath, tokens.PathLogin},
		{"continue path", idp.ContinuePath, tokens.PathAuthorizeContinue},
		{"session cookie", idp.SessionCookie, session.CookieName},
		{"upstream logout data", idp.SessionDataUpstreamLogout, tokens.SessionDataUpstreamLogout},
		{"upstream logout hand-off path", idp.UpstreamLogoutPath, tokens.PathUpstreamLogout},
		{"upstream logout hand-off kind", string(idp.KindUpstreamLogout), string(tokens.KindUpstreamLogout)},
	} {
		if c.idp != c.tokens {
			t.Errorf("%s: idp says %q, tokens says %q", c.name, c.idp, c.tokens)
		}
	}
}
