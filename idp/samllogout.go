package idp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// SAML Single Logout, the service's side (docs/logout.md, "SAML Single
// Logout"); the protocol is the connector's (idp/saml/slo.go).
//
//   - At the ACS the upstream SAML session (NameID, SessionIndex) is kept
//     sealed with the browser session (sessionData, under
//     SessionDataUpstreamLogout like an OIDC ID token, so /oauth2/logout's
//     hand-off carries it unchanged), and the session is filed in the
//     session store under a tag of the connection and NameID
//     (tagUpstreamSession), for the IdP's requests to find.
//   - SP-initiated: signing out here sends a signed LogoutRequest to the
//     IdP (samlLogoutStart); its ID is sealed in this browser's cookie,
//     keyed by the RelayState, like a login state, and the LogoutResponse
//     at /sso/saml/{conn}/slo must answer it (samlLogoutResponse).
//   - IdP-initiated: a LogoutRequest at /sso/saml/{conn}/slo, once
//     verified (signature required, Issuer, Destination, freshness, never
//     seen before), ends the sessions it names (endUpstreamSessions) and
//     is answered with a signed LogoutResponse.

// kindSAMLLogoutRequest is the replay cache of the IdP's LogoutRequest IDs.
const kindSAMLLogoutRequest session.Kind = "saml_logout_request"

// kindSAMLLogout names the sealed state of a LogoutRequest we sent.
const kindSAMLLogout session.Kind = "saml_logout"

// samlLogoutState is the pending LogoutRequest this browser sent.
type samlLogoutState struct {
	Connection string `json:"c"`
	RequestID  string `json:"i"`
	ReturnTo   string `json:"r"`
}

// SAMLLogoutURL is connection c's Single Logout endpoint, what an admin
// registers at the IdP (our SP metadata lists it for both bindings).
func (s *Service) SAMLLogoutURL(c directory.Connection) string {
	return s.issuer + "/sso/saml/" + url.PathEscape(c.ID) + "/slo"
}

// samlTag is the session-store tag of the sessions of one NameID (its Key)
// at connection connID.
func samlTag(connID, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "saml " + connID + " " + hex.EncodeToString(sum[:])
}

// tagUpstreamSession files a new session of a SAML sign-in under its
// NameID, until the session's absolute expiry.
func (s *Service) tagUpstreamSession(ctx context.Context, c directory.Connection, sess session.Session, id Identity) error {
	if id.SAMLSession == nil || id.SAMLSession.Key == "" {
		return nil
	}
	return s.sessions.TagSession(ctx, samlTag(c.ID, id.SAMLSession.Key), sess.UserID, sess.Handle, sess.AbsoluteExpiry)
}

// samlLogoutStart sends a LogoutRequest for the upstream session kept
// (JSON of a SAMLSession), coming back to h.ReturnTo; false when the IdP
// offers no Single Logout or the request cannot be made.
func (s *Service) samlLogoutStart(w http.ResponseWriter, r *http.Request, c directory.Connection, sc SAMLLogoutConnector, h UpstreamHandoff, kept []byte) (SAMLRequest, bool) {
	ctx := r.Context()
	var us SAMLSession
	if err := json.Unmarshal(kept, &us); err != nil || us.NameID == "" {
		s.log.WarnContext(ctx, "SAML logout skipped: the kept upstream session is unreadable", "connection", c.ID, "err", err)
		return SAMLRequest{}, false
	}
	key := randomToken() // the RelayState (≤ 80 bytes, SAML bindings §3.4.3)
	req, ok, err := sc.LogoutRequest(ctx, us, key)
	if err != nil {
		s.log.ErrorContext(ctx, "SAML logout skipped: the LogoutRequest could not be made", "connection", c.ID, "err", err)
		return SAMLRequest{}, false
	}
	if !ok {
		s.log.InfoContext(ctx, "SAML logout skipped: the IdP's metadata offers no SingleLogoutService", "connection", c.ID)
		return SAMLRequest{}, false
	}
	raw, _ := json.Marshal(samlLogoutState{Connection: c.ID, RequestID: req.ID, ReturnTo: h.ReturnTo})
	sealed, err := s.sealer.Seal(statePurpose(kindSAMLLogout, key), raw, s.now().Add(s.opts.LoginStateTTL))
	if err == nil && len(stateCookieName(key))+len(sealed) > maxStateCookie {
		err = fmt.Errorf("sealed logout state of %d bytes does not fit a cookie", len(sealed))
	}
	if err != nil {
		s.log.ErrorContext(ctx, "SAML logout skipped: sealing its state failed", "connection", c.ID, "err", err)
		return SAMLRequest{}, false
	}
	http.SetCookie(w, s.stateCookie(key, sealed))
	s.log.InfoContext(ctx, "signing out at the upstream IdP (SAML LogoutRequest)", "connection", c.ID, "user", h.UserID,
		"request_id", req.ID, "post_binding", req.Form != nil)
	return req, true
}

// samlSLO is GET|POST /sso/saml/{conn}/slo: a LogoutRequest from the IdP,
// or the LogoutResponse to ours, on the Redirect (GET) or POST binding.
func (s *Service) samlSLO(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	connID := r.PathValue("conn")
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxACSBytes)
		if err := r.ParseForm(); err != nil {
			s.logoutRefused(w, r, http.StatusBadRequest, "The sign-out message from your identity provider could not be read.",
				"unreadable SLO post", err, "connection", connID)
			return
		}
		params = r.PostForm
	}
	c, err := s.dir.LookupConnection(ctx, connID)
	if err != nil && !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrInvalid) {
		s.logoutRefused(w, r, http.StatusServiceUnavailable, "Sign-out is temporarily unavailable. Please try again.",
			"SLO: connection lookup failed", err, "connection", connID)
		return
	}
	if err != nil || c.Type != directory.ConnectionSAML {
		s.logoutRefused(w, r, http.StatusNotFound, "There is no such sign-in method.", "SLO for an unknown or non-SAML connection", nil, "connection", connID)
		return
	}
	conn, err := s.connector(ctx, c)
	var sc SAMLLogoutConnector
	if err == nil {
		var ok bool
		if sc, ok = conn.(SAMLLogoutConnector); !ok {
			err = fmt.Errorf("%w: connector has no Single Logout capability", ErrConfig)
		}
	}
	if err != nil {
		s.logoutRefused(w, r, http.StatusServiceUnavailable, "Sign-out is temporarily unavailable. Please try again.",
			"SLO: the connector cannot be built", err, "connection", c.ID)
		return
	}
	switch {
	case params.Has("SAMLRequest") && !params.Has("SAMLResponse"):
		s.samlLogoutRequest(w, r, c, sc)
	case params.Has("SAMLResponse") && !params.Has("SAMLRequest"):
		s.samlLogoutResponse(w, r, c, sc, params)
	default:
		s.logoutRefused(w, r, http.StatusBadRequest, "This is not a sign-out message.", "SLO without exactly one of SAMLRequest and SAMLResponse", nil, "connection", c.ID)
	}
}

// samlLogoutResponse checks the IdP's answer to the LogoutRequest this
// browser sent and lands where the logout was to end. The session here
// ended before the browser left, so a refusal only says that the IdP's
// sign-out could not be confirmed.
func (s *Service) samlLogoutResponse(w http.ResponseWriter, r *http.Request, c directory.Connection, sc SAMLLogoutConnector, params url.Values) {
	ctx := r.Context()
	relay := params.Get("RelayState")
	if r.Method == http.MethodPost && isToken(relay) && !s.carriesState(r, relay) && r.PostForm.Get(bounceField) == "" {
		// A cross-site POST carries no SameSite=Lax cookie: post again,
		// same-site (as the ACS does).
		fields := url.Values{"SAMLResponse": {params.Get("SAMLResponse")}, "RelayState": {relay}, bounceField: {"1"}}
		s.autoPost(w, r, s.base+"/sso/saml/"+url.PathEscape(c.ID)+"/slo", "Completing your sign-out…", fields, "'self'")
		return
	}
	sealed, ok := "", false
	if isToken(relay) {
		sealed, ok = session.FromRequest(r, stateCookieName(relay))
	}
	if !ok {
		s.logoutRefused(w, r, http.StatusBadRequest, "This sign-out has expired, was already completed, or was started in another browser.",
			"SAML LogoutResponse without a pending request in this browser", nil, "connection", c.ID)
		return
	}
	http.SetCookie(w, s.stateCookie(relay, ""))
	var st samlLogoutState
	raw, err := s.sealer.Open(statePurpose(kindSAMLLogout, relay), sealed, s.now())
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err == nil && (st.Connection != c.ID || !absoluteHTTP(st.ReturnTo)) {
		err = errors.New("the pending request is for another connection")
	}
	if err != nil {
		s.logoutRefused(w, r, http.StatusBadRequest, "This sign-out has expired or was already completed.",
			"SAML LogoutResponse with an unusable pending state", err, "connection", c.ID)
		return
	}
	err = sc.HandleLogoutResponse(ctx, r, st.RequestID)
	var ue *UpstreamError
	switch {
	case errors.As(err, &ue):
		s.logoutRefused(w, r, http.StatusBadGateway, "You are signed out here, but your identity provider reports that it could not end your session there. Close your browser to be sure.",
			"the IdP answered our LogoutRequest with a failure", err, "connection", c.ID, "request_id", st.RequestID)
	case err != nil:
		s.logoutRefused(w, r, http.StatusBadRequest, "You are signed out here, but the answer from your identity provider was refused, so its sign-out is not confirmed.",
			"SAML LogoutResponse refused", err, "connection", c.ID, "request_id", st.RequestID)
	default:
		s.log.InfoContext(ctx, "signed out at the upstream IdP (SAML LogoutResponse verified)", "connection", c.ID, "request_id", st.RequestID)
		s.redirect(w, r, st.ReturnTo)
	}
}

// samlLogoutRequest ends the sessions an IdP's verified LogoutRequest
// names and answers it. A refused request ends nothing.
func (s *Service) samlLogoutRequest(w http.ResponseWriter, r *http.Request, c directory.Connection, sc SAMLLogoutConnector) {
	ctx := r.Context()
	lr, err := sc.HandleLogoutRequest(ctx, r, s.logoutFirstSeen)
	if err != nil {
		status := http.StatusBadRequest
		if !errors.Is(err, ErrInvalidResponse) {
			status = http.StatusServiceUnavailable
		}
		s.logoutRefused(w, r, status, "This sign-out request from your identity provider was refused: nothing was signed out.",
			"SAML LogoutRequest refused", err, "connection", c.ID)
		return
	}
	status := SAMLStatusSuccess
	n, err := s.endUpstreamSessions(ctx, c, lr)
	if err != nil {
		status = SAMLStatusResponder
		s.log.ErrorContext(ctx, "IdP-initiated SAML logout: ending the sessions failed", "connection", c.ID, "request_id", lr.ID,
			"sessions_ended", n, "err", err)
	}
	resp, err := sc.LogoutResponse(ctx, lr.ID, status, lr.RelayState)
	if err != nil {
		s.logoutRefused(w, r, http.StatusInternalServerError, "Your sign-out could not be confirmed to your identity provider.",
			"SAML LogoutResponse could not be made", err, "connection", c.ID, "request_id", lr.ID)
		return
	}
	s.log.InfoContext(ctx, "IdP-initiated SAML logout", "connection", c.ID, "request_id", lr.ID,
		"session_indexes", len(lr.SessionIndexes), "sessions_ended", n, "status", status)
	if resp.Form != nil {
		s.autoPost(w, r, resp.URL, "Signing you out…", resp.Form, "*")
		return
	}
	s.redirect(w, r, resp.URL)
}

// endUpstreamSessions ends the sessions of connection c that came through
// the upstream session lr names: every session of its NameID, or only
// those with one of its SessionIndexes when it lists any. It returns how
// many it ended.
func (s *Service) endUpstreamSessions(ctx context.Context, c directory.Connection, lr SAMLLogout) (int, error) {
	tagged, err := s.sessions.SessionsTagged(ctx, samlTag(c.ID, lr.Key))
	if err != nil {
		return 0, err
	}
	byUser := map[string][]string{}
	for _, t := range tagged {
		byUser[t.UserID] = append(byUser[t.UserID], t.Handle)
	}
	n := 0
	for user, handles := range byUser {
		live, err := s.sessions.ListUserSessions(ctx, user)
		if err != nil {
			return n, err
		}
		for _, sess := range live {
			if !slices.Contains(handles, sess.Handle) || sess.ConnectionID != c.ID || !s.sessionIndexMatches(c, sess, lr) {
				continue
			}
			ended, err := s.endSession(ctx, sess.UserID, sess.Handle, "saml_idp_logout")
			if err != nil {
				return n, err
			}
			if ended {
				n++
			}
		}
	}
	return n, nil
}

// sessionIndexMatches reports whether sess is one of the upstream sessions
// lr lists (any, when it lists none). A session whose kept upstream session
// no longer opens matches: its NameID matched through the tag, and a
// logout errs on the side of ending.
func (s *Service) sessionIndexMatches(c directory.Connection, sess session.Session, lr SAMLLogout) bool {
	if len(lr.SessionIndexes) == 0 {
		return true
	}
	raw, err := s.sealer.Open(hintPurpose(c.ID, sess.UserID), sess.Data[SessionDataUpstreamLogout], s.now())
	var us SAMLSession
	if err != nil || json.Unmarshal(raw, &us) != nil {
		return true
	}
	return us.Key == lr.Key && slices.Contains(lr.SessionIndexes, us.SessionIndex)
}

// endSession ends one browser session, named by its handle, with the
// refresh-token families granted in it (offline access kept, as
// RP-initiated logout does). Every session this package ends on an
// upstream IdP's word ends here. It reports whether the session was live.
func (s *Service) endSession(ctx context.Context, userID, handle, why string) (bool, error) {
	fams, err := s.sessions.RevokeSessionFamilies(ctx, userID, handle, true)
	if err != nil {
		return false, fmt.Errorf("revoking the session's refresh tokens: %w", err)
	}
	ended, err := s.sessions.DeleteSessionByHandle(ctx, userID, handle)
	if err != nil {
		return false, fmt.Errorf("deleting the session: %w", err)
	}
	s.log.InfoContext(ctx, "session ended", "session", handle, "user", userID, "why", why, "refresh_families_ended", fams, "was_live", ended)
	return ended, nil
}

// logoutFirstSeen is the replay cache of the IdP's LogoutRequest IDs,
// shared by every replica. Only signature-valid requests reach it.
func (s *Service) logoutFirstSeen(ctx context.Context, issuer, id string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	return s.sessions.Remember(ctx, kindSAMLLogoutRequest, strconv.Itoa(len(issuer))+":"+issuer+id, ttl)
}

// logoutRefused answers a Single Logout message that cannot be acted on:
// a page with a reference for the user, a log line with the reason.
func (s *Service) logoutRefused(w http.ResponseWriter, r *http.Request, status int, message, logMsg string, err error, attrs ...any) {
	ref := newRef()
	args := append([]any{"ref", ref, "status", status, "path", r.URL.Path}, attrs...)
	if err != nil {
		args = append(args, "err", err)
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "single logout: "+logMsg, args...)
	s.render(w, r, status, "message", messagePageData{Title: "Sign-out", Message: message, Ref: ref,
		LinkURL: s.base + LoginDonePath, LinkText: "Continue"})
}
