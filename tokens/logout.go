package tokens

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

// LogoutCookie holds the double-submit token of the logout confirmation
// form (Path=/oauth2/logout).
const LogoutCookie = "ssb_logout"

// LogoutHintGrace is how long past its exp an id_token_hint is still
// accepted (OIDC RP-Initiated Logout §2: the OP should accept an ID token of
// a current or recent session). Older hints are refused with an error page.
const LogoutHintGrace = time.Hour

// sessionFamilyRevoker is what logout needs of the session store besides
// SessionStore: ending the refresh families of a browser session.
type sessionFamilyRevoker interface {
	RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error)
}

var _ sessionFamilyRevoker = session.Store(nil)

var errNoFamilyRevoker = errors.New("tokens: the session store cannot revoke a session's refresh families")

// logoutRequest is a parsed RP-initiated logout request.
type logoutRequest struct {
	hint        IDTokenClaims
	hasHint     bool
	clientID    string
	redirectURI string // post_logout_redirect_uri as sent
	state       string
	csrf        string
	// target is where to go after logout: the validated redirect URI with
	// state, or empty for the signed-out page.
	target string
	// refused is set when a post_logout_redirect_uri was sent but is not
	// registered (or the client is unknown): no redirect.
	refused bool
}

// LogoutHandler serves GET and POST /oauth2/logout (OpenID Connect
// RP-Initiated Logout 1.0). Parameters: id_token_hint (an ID token of ours,
// signature checked, exp past by at most LogoutHintGrace), client_id, post_logout_redirect_uri
// (exact match with one of the client's registered redirect URIs; the
// client is client_id or the hint's audience, which must agree) and state.
//
// The browser session is deleted and its cookie cleared at once when the
// request carries a valid id_token_hint for the signed-in user, or is the
// confirmation form's POST; any other request with a session first shows a
// confirmation (so a link on another site cannot sign the user out). Then
// the browser goes to the post-logout redirect URI with state, or, without
// a valid one, sees a "signed out" page: never an unregistered URI.
//
// Ending the session also ends the refresh-token families granted in it
// (RefreshFamily.SessionID is its Handle), except those granted with
// offline_access: offline access is meant to outlive the browser session
// (OIDC Core §11). They are ended before the session is deleted: if that
// fails the user sees the unavailable page, still signed in, and may retry.
// A family whose code is redeemed while the logout runs may survive.
func (p *Provider) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		req, perr := p.parseLogout(ctx, w, r)
		if perr != nil {
			p.page(w, r, perr)
			return
		}
		var sess session.Session
		id, hasCookie := session.FromRequest(r, session.CookieName)
		if hasCookie {
			s, err := p.sessions.GetSession(ctx, id)
			switch {
			case err == nil:
				sess = s
			case !notFound(err):
				p.page(w, r, unavailablePage(err))
				return
			}
		}
		confirmed := r.Method == http.MethodPost && req.csrf != "" && p.csrfMatches(r, req.csrf)
		hinted := req.hasHint && req.hint.Subject == sess.UserID
		if sess.Handle != "" && !confirmed && !hinted {
			p.confirmLogout(w, req)
			return
		}
		if sess.Handle != "" {
			// Families first: if that fails the session is still there to
			// sign out of on a retry.
			ended, err := p.endSessionFamilies(ctx, sess)
			if err != nil {
				p.log.ErrorContext(ctx, "sign-out failed: the session's refresh tokens could not be revoked", "session", sess.Handle,
					"user", sess.UserID, "err", err)
				p.page(w, r, unavailablePage(err))
				return
			}
			if err := p.sessions.DeleteSession(ctx, id); err != nil {
				p.page(w, r, unavailablePage(err))
				return
			}
			p.log.InfoContext(ctx, "signed out (RP-initiated)", "session", sess.Handle, "user", sess.UserID, "client_id", req.clientID,
				"refresh_families_ended", ended)
		}
		if hasCookie {
			p.clearCookie(w, session.CookieName, "/")
		}
		if req.target != "" {
			p.redirect(w, r, req.target)
			return
		}
		msg := ""
		if req.refused {
			msg = "The application's return address is not registered, so you were not sent back to it."
		}
		p.render(w, http.StatusOK, "signedout", pageData{Title: "Signed out", Message: msg}, "")
	})
}

// parseLogout reads and validates the request parameters.
func (p *Provider) parseLogout(ctx context.Context, w http.ResponseWriter, r *http.Request) (logoutRequest, *pageError) {
	var req logoutRequest
	q, perr := authorizeParams(w, r)
	if perr != nil {
		return req, perr
	}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "csrf"} {
		if len(q[k]) > 1 {
			return req, badRequestPage("The sign-out request repeats " + k + ".")
		}
	}
	req.clientID, req.redirectURI, req.state, req.csrf = q.Get("client_id"), q.Get("post_logout_redirect_uri"), q.Get("state"), q.Get("csrf")
	if len(req.state) > maxStateLen {
		return req, badRequestPage("The sign-out request's state is too long.")
	}
	if h := q.Get("id_token_hint"); h != "" {
		c, ok, err := p.verifyIDTokenHint(ctx, h)
		if err != nil {
			return req, unavailablePage(err)
		}
		if !ok {
			return req, badRequestPage("The sign-out request carries an ID token that was not issued here (id_token_hint).")
		}
		if p.now().Unix() > c.ExpiresAt+int64(LogoutHintGrace/time.Second) {
			return req, badRequestPage("The sign-out request carries an ID token that expired too long ago (id_token_hint). " +
				"Sign out from the application again, or close the browser.")
		}
		if req.clientID != "" && req.clientID != c.Audience {
			return req, badRequestPage("The sign-out request's client_id does not match its id_token_hint.")
		}
		req.hint, req.hasHint, req.clientID = c, true, c.Audience
	}
	if req.redirectURI == "" {
		return req, nil
	}
	if req.clientID == "" {
		req.refused = true
		return req, nil
	}
	client, err := p.client(ctx, req.clientID)
	switch {
	case err == nil && slices.Contains(client.RedirectURIs, req.redirectURI):
		req.target = req.redirectURI
		if req.state != "" {
			req.target = appendQuery(req.redirectURI, url.Values{"state": {req.state}})
		}
	case err == nil || notFound(err):
		req.refused = true
	default:
		return req, unavailablePage(err)
	}
	return req, nil
}

// endSessionFamilies revokes the refresh families granted in sess, keeping
// those with offline_access, and returns how many it ended.
func (p *Provider) endSessionFamilies(ctx context.Context, sess session.Session) (int, error) {
	rv, ok := p.sessions.(sessionFamilyRevoker)
	if !ok {
		return 0, errNoFamilyRevoker
	}
	return rv.RevokeSessionFamilies(ctx, sess.UserID, sess.Handle, true)
}

// confirmLogout asks the user to confirm, with a double-submit CSRF token.
func (p *Provider) confirmLogout(w http.ResponseWriter, req logoutRequest) {
	token := randomToken()
	c := session.Cookie(LogoutCookie, token, p.secure, p.cfg.PendingTTL)
	c.Path = p.basePath + PathLogout
	http.SetCookie(w, c)
	data := pageData{Title: "Sign out", Action: p.issuer.cfg.Issuer + PathLogout, CSRF: token, ClientID: req.clientID, State: req.state}
	formAction := ""
	if req.target != "" {
		data.RedirectURI = req.redirectURI
		if u, err := url.Parse(req.redirectURI); err == nil {
			formAction = u.Scheme + "://" + u.Host
		}
	}
	p.render(w, http.StatusOK, "logout", data, formAction)
}

// csrfMatches compares the form's token with the cookie in constant time.
func (p *Provider) csrfMatches(r *http.Request, token string) bool {
	c, ok := session.FromRequest(r, LogoutCookie)
	return ok && isRandomToken(c) && subtle.ConstantTimeCompare([]byte(c), []byte(token)) == 1
}

// clearCookie deletes a cookie set with path (and the configured domain
// for the session cookie).
func (p *Provider) clearCookie(w http.ResponseWriter, name, path string) {
	c := session.Cookie(name, "", p.secure, -1)
	c.Path = path
	if name == session.CookieName {
		c.Domain = p.cfg.CookieDomain
	}
	http.SetCookie(w, c)
}
