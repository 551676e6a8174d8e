package oauth

import (
	"net/url"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
)

// A session opened by an operator's sign-in link names no IdP: the OpenID
// provider gives applications no code for it (ID tokens name the IdP the
// user signed in through), while the same user through a connection gets one.
func TestSignInLinkSessionsGetNoCodes(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		e.setSignIn(func(id *identity) { id.connID = directory.LinkConnection })
		_, challenge := pkce()
		o := e.browser().navigate(e.authzURL(e.public, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s"}}))
		if o.param("code") != "" || o.param("error") == "" {
			t.Fatalf("a sign-in link session got %v", o.callback)
		}
		e.setSignIn(func(id *identity) { id.connID = e.conn.ID })
		if r := e.codeFlow(e.browser(), nil); r.status != 200 || r.str("access_token") == "" {
			t.Fatalf("through the connection: %d %v", r.status, r.body)
		}
	})
}
