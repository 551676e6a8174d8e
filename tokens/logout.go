package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// Names shared with package idp, which defines the same literals (tokens
// and idp never import each other; cmd/ssobroker's contract test checks that
// they agree): a session's kept upstream logout data, and the single-use
// hand-off through which idp continues a logout ended here at the IdP the
// session came through (OIDC end_session_endpoint, SAML Single Logout;
// docs/logout.md).
const (
	SessionDataUpstreamLogout              = "upstream_logout"
	PathUpstreamLogout                     = "/sso/logout"
	KindUpstreamLogout        session.Kind = "upstream_logout"
)

// upstreamHandoffTTL bounds the redirect from /oauth2/logout to the hand-off.
const upstreamHandoffTTL = 5 * time.Minute

// upstreamHandoff is the record idp reads at PathUpstreamLogout (its
// UpstreamHandoff): the ended session's user, org, connection and kept
// data, unopened, and the absolute URL to land on afterwards.
type upstreamHandoff struct {
	UserID       string `json:"user"`
	OrgID        string `json:"org"`
	ConnectionID string `json:"connection"`
	Sealed       string `json:"sealed"`
	ReturnTo     string `json:"return_to"`
}

// sessionFamilyRevoker is what logout needs of the session store besides
// SessionStore: ending the refresh families of a browser session.
type sessionFamilyRevoker interface {
	RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error)
}

var _ sessionFamilyRevoker = session.Store(nil)

var errNoFamilyRevoker = errors.New("tokens: the session store cannot revoke a session's refresh families")

// LogoutRequest is a validated RP-initiated logout request (see
// ParseLogout).
type LogoutRequest struct {
	hint    IDTokenClaims
	hasHint bool
	// ClientID is client_id, or the hint's audience.
	ClientID string
	// RedirectURI is post_logout_redirect_uri as sent.
	RedirectURI string
	State       string
	// CSRF is the confirmation form's double-submit token, as sent.
	CSRF string
	// Target is where to go after logout: the validated redirect URI with
	// state, or empty for the signed-out page.
	Target string
	// Refused is set when a post_logout_redirect_uri was sent but is not
	// registered (or the client is unknown): no redirect.
	Refused bool
}

// ParseLogout validates the parameters of an RP-initiated logout request
// (OpenID Connect RP-Initiated Logout 1.0): id_token_hint (an ID token of
// ours, signature checked, exp past by at most LogoutHintGrace),
// client_id, post_logout_redirect_uri (exact match with one of the
// client's registered redirect URIs; the client is client_id or the
// hint's audience, which must agree), state and csrf. A *PageError is
// shown, never redirected.
func (p *Provider) ParseLogout(ctx context.Context, q url.Values) (LogoutRequest, *PageError) {
	var req LogoutRequest
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "csrf"} {
		if len(q[k]) > 1 {
			return req, BadRequestPage("The sign-out request repeats " + k + ".")
		}
	}
	req.ClientID, req.RedirectURI, req.State, req.CSRF = q.Get("client_id"), q.Get("post_logout_redirect_uri"), q.Get("state"), q.Get("csrf")
	if len(req.State) > maxStateLen {
		return req, BadRequestPage("The sign-out request's state is too long.")
	}
	if h := q.Get("id_token_hint"); h != "" {
		c, ok, err := p.verifyIDTokenHint(ctx, h)
		if err != nil {
			return req, UnavailablePage(err)
		}
		if !ok {
			return req, BadRequestPage("The sign-out request carries an ID token that was not issued here (id_token_hint).")
		}
		if p.now().Unix() > c.ExpiresAt+int64(LogoutHintGrace/time.Second) {
			return req, BadRequestPage("The sign-out request carries an ID token that expired too long ago (id_token_hint). " +
				"Sign out from the application again, or close the browser.")
		}
		if req.ClientID != "" && req.ClientID != c.Audience {
			return req, BadRequestPage("The sign-out request's client_id does not match its id_token_hint.")
		}
		req.hint, req.hasHint, req.ClientID = c, true, c.Audience
	}
	if req.RedirectURI == "" {
		return req, nil
	}
	if req.ClientID == "" {
		req.Refused = true
		return req, nil
	}
	client, err := p.client(ctx, req.ClientID)
	switch {
	case err == nil && slices.Contains(client.RedirectURIs, req.RedirectURI):
		req.Target = req.RedirectURI
		if req.State != "" {
			req.Target = appendQuery(req.RedirectURI, url.Values{"state": {req.State}})
		}
	case err == nil || notFound(err):
		req.Refused = true
	default:
		return req, UnavailablePage(err)
	}
	return req, nil
}

// Logout ends the browser session whose cookie value is sessionID (empty:
// none) for req. The session is ended at once when the request carries a
// valid id_token_hint for the signed-in user, or confirmed is true (the
// confirmation form's POST with a matching CSRF token); otherwise, when
// there is a session, Logout ends nothing and reports that the user must
// confirm first (so a link on another site cannot sign the user out).
//
// Ending the session also ends the refresh-token families granted in it
// (RefreshFamily.SessionID is its Handle), except those granted with
// offline_access: offline access is meant to outlive the browser session
// (OIDC Core §11). They are ended before the session is deleted: if that
// fails the user sees the unavailable page, still signed in, and may retry.
// A family whose code is redeemed while the logout runs may survive.
//
// When the ended session kept what its upstream logout needs, upstream is
// where to send the browser next (idp's hand-off, PathUpstreamLogout with a
// single-use key), which ends at req.Target or, without one, back here at
// the signed-out page; otherwise upstream is empty.
func (p *Provider) Logout(ctx context.Context, req LogoutRequest, sessionID string, confirmed bool) (mustConfirm bool, upstream string, perr *PageError) {
	var sess session.Session
	if sessionID != "" {
		s, err := p.sessions.GetSession(ctx, sessionID)
		switch {
		case err == nil:
			sess = s
		case !notFound(err):
			return false, "", UnavailablePage(err)
		}
	}
	hinted := req.hasHint && req.hint.Subject == sess.UserID
	if sess.Handle != "" && !confirmed && !hinted {
		return true, "", nil
	}
	if sess.Handle == "" {
		return false, "", nil
	}
	// Families first: if that fails the session is still there to sign out
	// of on a retry.
	ended, err := p.endSessionFamilies(ctx, sess)
	if err != nil {
		p.log.ErrorContext(ctx, "sign-out failed: the session's refresh tokens could not be revoked", "session", sess.Handle,
			"user", sess.UserID, "err", err)
		return false, "", UnavailablePage(err)
	}
	if err := p.sessions.DeleteSession(ctx, sessionID); err != nil {
		return false, "", UnavailablePage(err)
	}
	p.log.InfoContext(ctx, "signed out (RP-initiated)", "session", sess.Handle, "user", sess.UserID, "client_id", req.ClientID,
		"refresh_families_ended", ended)
	return false, p.upstreamHandoff(ctx, sess, req.Target), nil
}

// upstreamHandoff stores the hand-off of sess's upstream logout and
// returns the URL that takes it up, or "" when the session kept nothing
// for it or the record cannot be stored (the local logout stands; logged).
func (p *Provider) upstreamHandoff(ctx context.Context, sess session.Session, target string) string {
	sealed := sess.Data[SessionDataUpstreamLogout]
	if sealed == "" || sess.ConnectionID == "" {
		return ""
	}
	issuer := p.issuer.IssuerURL()
	if target == "" {
		target = issuer + PathLogout
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "" // idp lands only on http(s) URLs: a native app's URI stays local
	}
	raw, _ := json.Marshal(upstreamHandoff{UserID: sess.UserID, OrgID: sess.OrgID, ConnectionID: sess.ConnectionID, Sealed: sealed, ReturnTo: target})
	var b [32]byte
	_, _ = rand.Read(b[:])
	key := base64.RawURLEncoding.EncodeToString(b[:])
	if err := p.sessions.PutOnce(ctx, KindUpstreamLogout, key, raw, upstreamHandoffTTL); err != nil {
		p.log.WarnContext(ctx, "upstream logout skipped: the hand-off could not be stored", "session", sess.Handle, "err", err)
		return ""
	}
	return issuer + PathUpstreamLogout + "?" + url.Values{"id": {key}}.Encode()
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
