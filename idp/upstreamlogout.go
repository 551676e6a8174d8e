package idp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// Upstream RP-initiated logout (docs/security.md, "Upstream logout"): when
// the IdP a browser session came through offers a logout endpoint (OIDC
// end_session_endpoint), signing out of the broker also sends the browser
// there, with the upstream ID token as id_token_hint and a
// post_logout_redirect_uri back to us, so the user is signed out of their
// IdP too.

// LogoutConnector is the optional capability of a connector whose IdP
// offers RP-initiated logout.
type LogoutConnector interface {
	// LogoutURL returns where to send the browser to end the user's
	// session at the IdP, carrying idTokenHint, postLogoutRedirectURI and
	// state; ok is false when the IdP offers no logout endpoint.
	LogoutURL(idTokenHint, postLogoutRedirectURI, state string) (u string, ok bool)
}

// Names shared with package tokens (which defines the same literals: tokens
// and idp never import each other).
const (
	// SessionDataUpstreamLogout is the session.Session.Data key under which
	// a session keeps what its upstream logout needs (the IdP's ID token,
	// sealed by idp). tokens copies it, unopened, into the hand-off record.
	SessionDataUpstreamLogout = "upstream_logout"
	// UpstreamLogoutPath takes over a logout that /oauth2/logout ended
	// locally: GET UpstreamLogoutPath?id=KEY, where KEY names a record
	// tokens stored with PutOnce(KindUpstreamLogout, KEY, upstreamHandoff).
	UpstreamLogoutPath = "/sso/logout"
	// KindUpstreamLogout is the single-use record of that hand-off.
	KindUpstreamLogout session.Kind = "upstream_logout"
)

// UpstreamHandoff is the JSON record tokens stores for UpstreamLogoutPath:
// the ended session's user, org and connection, its SessionDataUpstreamLogout
// value as it was, and the absolute URL to land on afterwards (the client's
// registered post-logout redirect URI with state, or the signed-out page).
type UpstreamHandoff struct {
	UserID       string `json:"user"`
	OrgID        string `json:"org"`
	ConnectionID string `json:"connection"`
	Sealed       string `json:"sealed"`
	ReturnTo     string `json:"return_to"`
}

const (
	// upstreamHintTTL bounds how long the sealed upstream ID token opens:
	// the session store's default session lifetime. A session configured to
	// live longer signs out locally only after that.
	upstreamHintTTL = 24 * time.Hour
	// maxUpstreamIDToken is the largest upstream ID token kept; a larger one
	// is not kept (the session then signs out locally only).
	maxUpstreamIDToken = 8 << 10
	// upstreamLogoutStateTTL bounds the round trip through the IdP's logout.
	upstreamLogoutStateTTL = 10 * time.Minute
	// maxReturnTo bounds the URL a logout lands on.
	maxReturnTo = 4096
)

func hintPurpose(connID, userID string) string {
	return "idp upstream id_token " + connID + " " + userID
}

const logoutStatePurpose = "idp upstream logout state"

// upstreamLogoutState travels, sealed, as the state of the IdP's logout.
type upstreamLogoutState struct {
	Connection string `json:"c"`
	ReturnTo   string `json:"r"`
}

// sessionData returns the Data a new session keeps for its upstream
// logout, sealed (purpose bound to the connection and the user): the IdP's
// ID token (OIDC), or the upstream SAML session, NameID and SessionIndex
// (samllogout.go). It is nil when the connector cannot log out upstream or
// there is nothing to keep or it is too large.
func (s *Service) sessionData(ctx context.Context, c directory.Connection, userID string, id Identity) map[string]string {
	conn, err := s.connector(ctx, c)
	if err != nil {
		return nil
	}
	var secret []byte
	switch conn.(type) {
	case SAMLLogoutConnector:
		if id.SAMLSession != nil {
			secret, _ = json.Marshal(id.SAMLSession)
		}
	case LogoutConnector:
		secret = []byte(id.IDToken)
	}
	if len(secret) == 0 || len(secret) > maxUpstreamIDToken {
		return nil
	}
	sealed, err := s.sealer.Seal(hintPurpose(c.ID, userID), secret, s.now().Add(upstreamHintTTL))
	if err != nil {
		s.log.Warn("sealing the upstream session failed; this session signs out locally only", "connection", c.ID, "err", err)
		return nil
	}
	return map[string]string{SessionDataUpstreamLogout: sealed}
}

// continueLogout answers a logout that ended the session of h here: it
// sends the browser to sign out at the IdP the session came through (an
// OIDC end_session_endpoint, or a SAML LogoutRequest: samllogout.go),
// coming back to h.ReturnTo (absolute), or straight to h.ReturnTo when
// there is no upstream logout to do: the session kept nothing for it, it no
// longer opens, the connection is gone, disabled or moved, or its IdP
// offers no logout endpoint. The local sign-out has happened by then, so
// every failure here falls back to it.
func (s *Service) continueLogout(w http.ResponseWriter, r *http.Request, h UpstreamHandoff) {
	if to, ok := s.upstreamLogout(w, r, h); ok {
		if to.Form != nil {
			s.autoPost(w, r, to.URL, "Signing you out…", to.Form, "*")
			return
		}
		s.redirect(w, r, to.URL)
		return
	}
	s.redirect(w, r, h.ReturnTo)
}

// upstreamLogout is where continueLogout sends the browser upstream.
func (s *Service) upstreamLogout(w http.ResponseWriter, r *http.Request, h UpstreamHandoff) (SAMLRequest, bool) {
	ctx := r.Context()
	if h.Sealed == "" || h.ConnectionID == "" || len(h.ReturnTo) > maxReturnTo {
		return SAMLRequest{}, false
	}
	kept, err := s.sealer.Open(hintPurpose(h.ConnectionID, h.UserID), h.Sealed, s.now())
	if err != nil {
		s.log.InfoContext(ctx, "upstream logout skipped: what the session kept does not open (expired)", "connection", h.ConnectionID)
		return SAMLRequest{}, false
	}
	c, err := s.dir.LookupConnection(ctx, h.ConnectionID)
	if err != nil || !c.Enabled || c.OrgID != h.OrgID {
		s.log.InfoContext(ctx, "upstream logout skipped: the connection is gone, disabled or moved", "connection", h.ConnectionID, "err", err)
		return SAMLRequest{}, false
	}
	conn, err := s.connector(ctx, c)
	if err != nil {
		s.log.WarnContext(ctx, "upstream logout skipped: the connector cannot be built", "connection", c.ID, "err", err)
		return SAMLRequest{}, false
	}
	switch cn := conn.(type) {
	case SAMLLogoutConnector:
		return s.samlLogoutStart(w, r, c, cn, h, kept)
	case LogoutConnector:
		raw, _ := json.Marshal(upstreamLogoutState{Connection: c.ID, ReturnTo: h.ReturnTo})
		state, err := s.sealer.Seal(logoutStatePurpose, raw, s.now().Add(upstreamLogoutStateTTL))
		if err != nil {
			return SAMLRequest{}, false
		}
		u, ok := cn.LogoutURL(string(kept), s.LogoutCallbackURL(c), state)
		if !ok {
			return SAMLRequest{}, false
		}
		s.log.InfoContext(ctx, "signing out at the upstream IdP", "connection", c.ID, "user", h.UserID)
		return SAMLRequest{URL: u}, true
	}
	return SAMLRequest{}, false
}

// LogoutCallbackURL is where the IdP of connection c sends the browser
// after its logout: the post_logout_redirect_uri an admin registers at the
// IdP beside the callback URL.
func (s *Service) LogoutCallbackURL(c directory.Connection) string {
	return s.issuer + "/sso/oidc/" + url.PathEscape(c.ID) + "/logout/callback"
}

// handoffFor is the hand-off of a session ended here.
func handoffFor(sess session.Session, returnTo string) UpstreamHandoff {
	return UpstreamHandoff{UserID: sess.UserID, OrgID: sess.OrgID, ConnectionID: sess.ConnectionID,
		Sealed: sess.Data[SessionDataUpstreamLogout], ReturnTo: returnTo}
}

// upstreamLogoutReturn is GET /sso/oidc/{conn}/logout/callback: back from
// the IdP's logout. A state that opens (sealed here, unexpired, for this
// connection) sends the browser on to where the logout was to end; anything
// else to the signed-out page (the user is signed out of the broker either
// way, and nothing here changes state).
func (s *Service) upstreamLogoutReturn(w http.ResponseWriter, r *http.Request) {
	target := s.base + LoginDonePath
	raw, err := s.sealer.Open(logoutStatePurpose, r.URL.Query().Get("state"), s.now())
	var st upstreamLogoutState
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	switch {
	case err != nil:
		s.log.InfoContext(r.Context(), "back from an upstream logout without a valid state", "connection", r.PathValue("conn"), "err", err)
	case st.Connection != r.PathValue("conn"):
		s.log.WarnContext(r.Context(), "back from an upstream logout for another connection", "connection", r.PathValue("conn"))
	default:
		target = st.ReturnTo
	}
	s.redirect(w, r, target)
}

// upstreamLogoutHandoff is GET /sso/logout?id=KEY: a logout /oauth2/logout
// ended locally, continued at the IdP. The record is single use and was
// written by tokens only after it ended a session; an unknown or used key
// lands on the signed-out page.
func (s *Service) upstreamLogoutHandoff(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := r.URL.Query().Get("id")
	if !isToken(key) {
		s.redirect(w, r, s.base+LoginDonePath)
		return
	}
	raw, err := s.sessions.TakeOnce(ctx, KindUpstreamLogout, key)
	if err != nil {
		if !errors.Is(err, session.ErrNotFound) {
			s.log.WarnContext(ctx, "reading an upstream logout hand-off failed", "err", err)
		}
		s.redirect(w, r, s.base+LoginDonePath)
		return
	}
	var h UpstreamHandoff
	if err := json.Unmarshal(raw, &h); err != nil || !absoluteHTTP(h.ReturnTo) {
		s.log.WarnContext(ctx, "malformed upstream logout hand-off", "err", err)
		s.redirect(w, r, s.base+LoginDonePath)
		return
	}
	s.continueLogout(w, r, h)
}

// absoluteHTTP reports whether raw is an absolute http(s) URL.
func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(raw) <= maxReturnTo
}
