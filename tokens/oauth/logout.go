package oauth

import (
	"crypto/subtle"
	"net/http"
	"net/url"

	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// LogoutHandler serves GET and POST /oauth2/logout (OpenID Connect
// RP-Initiated Logout 1.0; see tokens.Provider.ParseLogout and
// tokens.Provider.Logout). A request with a session that neither carries a
// valid id_token_hint for the signed-in user nor is the confirmation
// form's POST (its CSRF token matching tokens.LogoutCookie) first shows a
// confirmation, so a link on another site cannot sign the user out. Then
// the session cookie is cleared and the browser goes to the post-logout
// redirect URI with state, or, without a valid one, sees a "signed out"
// page: never an unregistered URI.
func (s *Server) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q, perr := authorizeParams(w, r)
		if perr != nil {
			s.page(w, r, perr)
			return
		}
		req, perr := s.provider.ParseLogout(ctx, q)
		if perr != nil {
			s.page(w, r, perr)
			return
		}
		id, hasCookie := session.FromRequest(r, session.CookieName)
		if !hasCookie {
			id = ""
		}
		confirmed := r.Method == http.MethodPost && req.CSRF != "" && csrfMatches(r, req.CSRF)
		mustConfirm, upstream, perr := s.provider.Logout(ctx, req, id, confirmed)
		switch {
		case perr != nil:
			s.page(w, r, perr)
			return
		case mustConfirm:
			s.confirmLogout(w, req)
			return
		}
		if hasCookie {
			// The same writer as sign-in: the cookie of the configured
			// domain and a stale host-only one both go (docs/opik.md).
			s.provider.CookieSettings().Session.Clear(w)
		}
		if upstream != "" {
			// On to the IdP's logout (idp), which ends at req.Target.
			redirect(w, r, upstream)
			return
		}
		if req.Target != "" {
			redirect(w, r, req.Target)
			return
		}
		msg := ""
		if req.Refused {
			msg = "The application's return address is not registered, so you were not sent back to it."
		}
		s.render(w, http.StatusOK, "signedout", pageData{Title: "Signed out", Message: msg}, "")
	})
}

// confirmLogout asks the user to confirm, with a double-submit CSRF token.
func (s *Server) confirmLogout(w http.ResponseWriter, req tokens.LogoutRequest) {
	token := tokens.RandomToken()
	cs := s.provider.CookieSettings()
	c := session.Cookie(tokens.LogoutCookie, token, cs.Secure, cs.MaxAge)
	c.Path = cs.BasePath + tokens.PathLogout
	http.SetCookie(w, c)
	data := pageData{Title: "Sign out", Action: s.issuer.IssuerURL() + tokens.PathLogout, CSRF: token, ClientID: req.ClientID, State: req.State}
	formAction := ""
	if req.Target != "" {
		data.RedirectURI = req.RedirectURI
		if u, err := url.Parse(req.RedirectURI); err == nil {
			formAction = u.Scheme + "://" + u.Host
		}
	}
	s.render(w, http.StatusOK, "logout", data, formAction)
}

// csrfMatches compares the form's token with the cookie in constant time.
func csrfMatches(r *http.Request, token string) bool {
	c, ok := session.FromRequest(r, tokens.LogoutCookie)
	return ok && tokens.IsRandomToken(c) && subtle.ConstantTimeCompare([]byte(c), []byte(token)) == 1
}
