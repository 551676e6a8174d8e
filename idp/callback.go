package idp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// oidcCallback is GET /sso/oidc/{conn}/callback.
func (s *Service) oidcCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	connID := r.PathValue("conn")
	state := r.URL.Query().Get("state")
	st, ok := s.takeState(w, r, session.KindLoginState, state, connID)
	if !ok {
		return
	}
	if st.Test != "" {
		r = asTest(r, st) // a refusal is the test's result
	}
	retry := st.retry()
	c, ok := s.liveConnection(w, r, st, retry)
	if !ok {
		return
	}
	conn, err := s.connector(ctx, c)
	if err != nil {
		s.fail(w, r, connectorFailure(err, retry), "org", c.OrgID, "connection", c.ID)
		return
	}
	cc, ok := conn.(CallbackConnector)
	if !ok {
		s.fail(w, r, connectorFailure(errors.Join(ErrConfig, errors.New("connector has no callback capability")), retry), "connection", c.ID)
		return
	}
	sctx, span := s.startSpan(ctx, spanOIDCCallback, c)
	id, err := cc.HandleCallback(sctx, r, CallbackExpect{State: state, Nonce: st.Nonce, PKCEVerifier: st.Verifier, RedirectURI: s.CallbackURL(c)})
	endSpan(span, err)
	if err != nil {
		s.fail(w, r, connectorFailure(err, retry), "org", c.OrgID, "connection", c.ID)
		return
	}
	if !s.spendState(w, r, session.KindLoginState, state, st) {
		return
	}
	if st.Test != "" {
		s.completeTest(w, r, st, c, id) // never provisions (conntest.go)
		return
	}
	s.finish(w, r, st, c, id, false)
}

// takeState opens the login state of kind named by state (the OIDC state
// or the SAML RelayState) from this browser's login-state cookie, and
// checks that this browser started it for connection connID. It answers the
// request itself when it returns false. The cookie is cleared once read;
// the state is spent (spendState) only after the IdP authenticated the
// user, so a stranger's attempt at the callback spends nothing.
func (s *Service) takeState(w http.ResponseWriter, r *http.Request, kind session.Kind, state, connID string) (loginState, bool) {
	var st loginState
	expired := failure{status: http.StatusBadRequest, title: "Sign-in link expired",
		message: "This sign-in attempt has expired or was already used. Please start again.",
		retry:   &loginRequest{}, log: "unknown, expired or already used state", level: slog.LevelWarn}
	if !isToken(state) {
		expired.log = "callback without a well-formed state"
		s.fail(w, r, expired, "connection", connID)
		return st, false
	}
	binding := cookieValue(r, BindingCookie)
	otherBrowser := failure{status: http.StatusBadRequest, title: "Sign-in failed",
		message: "This sign-in was started in another browser or your browser blocked our cookies. Please start again in this browser.",
		log:     "browser binding cookie missing or not the one that started this login", level: slog.LevelWarn}
	sealed, ok := session.FromRequest(r, stateCookieName(state))
	if !ok {
		// No login of this browser has this state: expired (the cookie's
		// Max-Age), used (cleared), or never started here.
		if binding == "" {
			s.fail(w, r, otherBrowser, "connection", connID, "cookie_present", false)
			return st, false
		}
		s.fail(w, r, expired, "connection", connID)
		return st, false
	}
	// From here on this attempt is over for the browser: a retry starts a
	// new login.
	http.SetCookie(w, s.stateCookie(state, ""))
	raw, err := s.sealer.Open(statePurpose(kind, state), sealed, s.now())
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		expired.err = err
		s.fail(w, r, expired, "connection", connID)
		return loginState{}, false
	}
	if binding == "" || !sameSecret(bindingHash(binding), st.Binding) {
		otherBrowser.retry = st.retry()
		s.fail(w, r, otherBrowser, "connection", connID, "cookie_present", binding != "")
		return st, false
	}
	if st.Connection != connID {
		s.fail(w, r, failure{status: http.StatusBadRequest, title: "Sign-in failed",
			message: "The answer came back for another sign-in method. Please start again.",
			retry:   st.retry(), log: "state issued for another connection", level: slog.LevelWarn},
			"connection", connID, "state_connection", st.Connection)
		return st, false
	}
	return st, true
}

// spendState makes the login state of kind and key single-use, once the
// IdP has authenticated the user: the first call wins, any later one (a
// replayed callback with a copied cookie) is refused. It answers the
// request itself when it returns false.
func (s *Service) spendState(w http.ResponseWriter, r *http.Request, kind session.Kind, key string, st loginState) bool {
	first, err := s.sessions.Remember(r.Context(), kind, key, s.opts.LoginStateTTL)
	if err != nil {
		s.fail(w, r, storeFailure("spending the login state", err, st.retry()))
		return false
	}
	if !first {
		s.fail(w, r, failure{status: http.StatusBadRequest, title: "Sign-in link expired",
			message: "This sign-in attempt has expired or was already used. Please start again.",
			retry:   st.retry(), log: "login state already used (replay)", level: slog.LevelWarn}, "connection", st.Connection)
		return false
	}
	return true
}

// retry is how to start this login again.
func (st loginState) retry() *loginRequest {
	return &loginRequest{Authz: st.Authz, ReturnTo: st.ReturnTo, ForceReauth: st.Force}
}

// liveConnection reads the state's connection again: it must still exist,
// be enabled and belong to the org the login started for.
func (s *Service) liveConnection(w http.ResponseWriter, r *http.Request, st loginState, retry *loginRequest) (directory.Connection, bool) {
	c, err := s.dir.LookupConnection(r.Context(), st.Connection)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		s.fail(w, r, storeFailure("connection lookup", err, retry))
		return c, false
	}
	// A test may run before the connection is enabled (conntest.go).
	if err != nil || (!c.Enabled && st.Test == "") || c.OrgID != st.Org {
		s.fail(w, r, failure{status: http.StatusForbidden, title: "Sign-in method disabled",
			message: "This sign-in method has been disabled or removed. Ask your administrator.",
			log:     "connection deleted, disabled or moved during the login", level: slog.LevelWarn},
			"connection", st.Connection, "org", st.Org)
		return c, false
	}
	return c, true
}

// finish provisions the user in the directory and, for a member, creates
// the browser session and ends the login. Every connector type ends here.
// viaForm says the request is a form our own page submitted: the login then
// ends with a page that navigates by itself, because browsers apply that
// page's CSP form-action ('self') to the redirects that follow a form
// submission, and the end of a login redirects to the client's origin.
func (s *Service) finish(w http.ResponseWriter, r *http.Request, st loginState, c directory.Connection, id Identity, viaForm bool) {
	ctx := r.Context()
	retry := st.retry()
	cfg, err := ParseConnectionConfig(c.Config)
	if err != nil {
		s.fail(w, r, connectorFailure(err, retry), "connection", c.ID)
		return
	}
	role, workspaces := cfg.MapGroups(id.Groups)
	pctx, span := s.startSpan(ctx, spanProvision, c)
	out, err := s.dir.ProvisionLogin(pctx, directory.LoginIdentity{
		OrgID: c.OrgID, ConnectionID: c.ID, Issuer: id.Issuer, Subject: id.Subject,
		Email: id.Email, EmailVerified: id.EmailVerified, Name: id.Name,
		MappedOrgRole: role, MappedWorkspaces: workspaces,
	})
	if err == nil {
		span.SetAttributes(attribute.String("ssobroker.user.id", out.User.ID), attribute.Bool("ssobroker.user.new", out.NewUser),
			attribute.String("ssobroker.login.status", string(out.Status)))
	}
	endSpan(span, err)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		s.fail(w, r, failure{status: http.StatusForbidden, title: "Sign-in method disabled",
			message: "This sign-in method has been disabled or removed. Ask your administrator.",
			log:     "provisioning refused: connection or organization gone", err: err, level: slog.LevelWarn}, "connection", c.ID)
		return
	case errors.Is(err, directory.ErrInvalid):
		s.fail(w, r, failure{status: http.StatusForbidden, title: "Sign-in failed",
			message: "Your identity provider sent an email address or role we cannot use. Ask your administrator.",
			log:     "provisioning refused the identity", err: err, level: slog.LevelWarn}, "connection", c.ID)
		return
	case err != nil:
		s.fail(w, r, storeFailure("provisioning", err, retry))
		return
	}
	for _, n := range out.Notes {
		s.log.WarnContext(ctx, "group mapping: "+n, "connection", c.ID, "user", out.User.ID)
	}
	org, err := s.dir.GetOrg(ctx, c.OrgID)
	if err != nil {
		s.fail(w, r, storeFailure("organization lookup", err, retry))
		return
	}
	attrs := []any{"org", c.OrgID, "connection", c.ID, "user", out.User.ID, "new_user", out.NewUser, "status", out.Status}
	switch out.Status {
	case directory.LoginMember:
		s.signIn(w, r, st, c, id, out.User, viaForm)
	case directory.LoginPendingApproval:
		if out.NewJoinRequest && out.JoinRequest != nil && s.opts.JoinRequests != nil {
			s.opts.JoinRequests.NotifyJoinRequest(ctx, org, out.User, *out.JoinRequest)
		}
		ref := newRef()
		s.log.InfoContext(ctx, "sign-in: waiting for approval", append(attrs, "ref", ref, "reason", "jit.pending_approval")...)
		s.noteFailure(ctx, c.OrgID, c.ID, "jit.pending_approval", CausePolicy, ref)
		s.render(w, r, http.StatusOK, "message", messagePageData{Title: "Waiting for approval", Ref: ref, Cause: causeSentence(CausePolicy),
			Message: "You asked to join " + org.Name + ". An administrator of the organization must approve your request; sign in again once they have."})
	default:
		ref := newRef()
		s.log.InfoContext(ctx, "sign-in: not invited", append(attrs, "ref", ref, "reason", "jit.invite_only")...)
		s.noteFailure(ctx, c.OrgID, c.ID, "jit.invite_only", CausePolicy, ref)
		s.render(w, r, http.StatusForbidden, "message", messagePageData{Title: "No invitation", Ref: ref, Cause: causeSentence(CausePolicy),
			Message: "You have no invitation to " + org.Name + ". Ask an administrator of the organization to invite " + out.User.Email + "."})
	}
}

// signIn creates the browser session, sets its cookie and ends the login:
// back to tokens when a client asked, else to return_to or /login/done.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, st loginState, c directory.Connection, id Identity, u directory.User, viaForm bool) {
	ctx := r.Context()
	amr := id.AMR
	if len(amr) == 0 {
		amr = []string{"fed"}
	}
	sess, err := s.sessions.CreateSession(ctx, session.Session{
		UserID: u.ID, OrgID: c.OrgID, ConnectionID: c.ID, AMR: amr, AuthTime: s.now(),
		Data: s.sessionData(ctx, c, u.ID, id),
	})
	if err != nil {
		s.fail(w, r, storeFailure("creating the session", err, st.retry()))
		return
	}
	// Filed under its upstream SAML session, for the IdP's logout to find
	// (samllogout.go); a session that could not be is not handed out.
	if err := s.tagUpstreamSession(ctx, c, sess, id); err != nil {
		_ = s.sessions.DeleteSession(ctx, sess.ID)
		s.fail(w, r, storeFailure("filing the session under its SAML session", err, st.retry()))
		return
	}
	// The browser's previous session, if any, ends: one browser, one session.
	if old, ok := session.FromRequest(r, SessionCookie); ok {
		if err := s.sessions.DeleteSession(ctx, old); err != nil {
			s.log.WarnContext(ctx, "removing the previous session failed", "err", err)
		}
	}
	s.cookie.Set(w, sess.ID)
	target := s.base + LoginDonePath
	switch {
	case st.Authz != "":
		target = s.base + ContinuePath + "?" + url.Values{AuthzParam: {st.Authz}}.Encode()
	case st.ReturnTo != "" && ValidReturnTo(st.ReturnTo):
		target = st.ReturnTo
	}
	s.log.InfoContext(ctx, "sign-in: session created", "org", c.OrgID, "connection", c.ID, "user", u.ID,
		"session", sess.Handle, "amr", amr, "for_client", st.Authz != "")
	if viaForm {
		s.render(w, r, http.StatusOK, "redirect", redirectPageData{URL: target, Name: "your application"})
		return
	}
	s.redirect(w, r, target)
}
