package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// Error codes of the authorization endpoint (RFC 6749 §4.1.2.1, OIDC Core
// §3.1.2.6) besides those shared with the token endpoint.
const (
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeLoginRequired           = "login_required"
	CodeRequestNotSupported     = "request_not_supported"
	CodeRequestURINotSupported  = "request_uri_not_supported"
)

// AuthzCookie binds a pending authorization to the browser that started
// it: a random value, one per browser, whose SHA-256 each pending record
// keeps. It is sent only to the authorization endpoint and its
// continuation (Path=/oauth2/authorize).
const AuthzCookie = "ssb_authz"

// Bounds of request parameters, so that a pending record stays small.
const (
	maxStateLen     = 2048
	maxNonceLen     = 512
	maxLoginHintLen = 320
	maxOrgRefLen    = 200
)

// authzParams are the parameters of the authorization endpoint this
// provider reads; a repeated one is invalid_request (RFC 6749 §3.1).
var authzParams = [...]string{"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "organization", "workspace",
	"request", "request_uri"}

// pendingAuthorization is a validated authorization request waiting for the
// user to sign in. It is not stored: sealed (purposePending), it is the
// authz value the browser carries to sign-in and back (docs/security.md,
// "Abuse resistance: sign-in state"); the JSON keys are short to keep that
// URL short.
type pendingAuthorization struct {
	// ID names the request for single use: remembered under
	// session.KindPendingAuthorization once a signed-in user continues it.
	ID          string `json:"i"`
	ClientID    string `json:"c"`
	RedirectURI string `json:"r"`
	Scope       string `json:"s,omitempty"`
	State       string `json:"st,omitempty"`
	Nonce       string `json:"n,omitempty"`
	// Challenge is the S256 PKCE code challenge.
	Challenge string `json:"cc,omitempty"`
	// ForceLogin: prompt=login (or select_account, or max_age=0) — only a
	// session authenticated after CreatedAt will do.
	ForceLogin bool `json:"f,omitempty"`
	// MaxAge is max_age in seconds, or -1.
	MaxAge     int64  `json:"m"`
	PromptNone bool   `json:"pn,omitempty"`
	OrgID      string `json:"o,omitempty"`
	Workspace  string `json:"w,omitempty"`
	LoginHint  string `json:"h,omitempty"`
	// Binding is base64url(SHA-256) of the browser's AuthzCookie.
	Binding string `json:"b,omitempty"`
	// CreatedAt is when the request was accepted, in Unix milliseconds.
	CreatedAt int64 `json:"t"`
}

// purposePending is the purpose pending authorizations are sealed for.
const purposePending = "tokens pending authorization"

// MaxAuthzLen bounds the sealed pending authorization (the authz value):
// package idp carries it in a cookie of at most 4096 bytes together with
// its own login state, so a request whose state, nonce, login_hint and
// redirect URI together seal longer is invalid_request. idp.MaxAuthzLen is
// the same number.
const MaxAuthzLen = 2400

// PageKind says which kind of failure a PageError is; package
// tokens/oauth answers each with its HTTP status.
type PageKind int

// The kinds of PageError.
const (
	// PageBadRequest: the request cannot be served as sent (400).
	PageBadRequest PageKind = iota
	// PageUnavailable: a store is down; try again (503).
	PageUnavailable
	// PageInternal: our failure (500).
	PageInternal
)

// PageError is an authorization- or logout-endpoint failure shown on a
// page because the client or its redirect URI could not be trusted (RFC
// 6749 §4.1.2.1: never redirect then). Title and Message are shown; Cause
// is logged.
type PageError struct {
	Kind    PageKind
	Title   string
	Message string
	Cause   error
}

func (e *PageError) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *PageError) Unwrap() error { return e.Cause }

// BadRequestPage is the page for a request that cannot be served, saying
// why in message.
func BadRequestPage(message string) *PageError {
	return &PageError{Kind: PageBadRequest, Title: "Sign-in request not valid", Message: message}
}

// UnavailablePage is the page for a store failure (cause, logged).
func UnavailablePage(cause error) *PageError {
	return &PageError{Kind: PageUnavailable, Title: "Try again in a moment",
		Message: "Sign-in is temporarily unavailable. Please try again in a moment.", Cause: cause}
}

// AuthorizationRequest is what a browser sent to the authorization
// endpoint: the parameters (query or form, read by package tokens/oauth)
// and the values of its cookies.
type AuthorizationRequest struct {
	Params url.Values
	// SessionID is the browser's session cookie (session.CookieName), empty
	// without one.
	SessionID string
	// Binding is the browser's AuthzCookie, empty without one.
	Binding string
}

// Authorization is where the browser goes next.
type Authorization struct {
	// Location is the redirect: the client's redirect URI with a code or
	// an error, or sign-in (PathLogin).
	Location string
	// Binding, when not empty, is the AuthzCookie value the browser must
	// keep (see CookieSettings) until it comes back to Continue.
	Binding string
}

// Authorize serves an authorization request (RFC 6749 §4.1.1, OIDC Core
// §3.1.2). Until the client and its redirect URI are validated, errors are
// a *PageError to show (never redirected); after, they are sent to the
// redirect URI with error, error_description, state and iss (RFC 9207). A
// browser with a usable session gets its code at once; any other is sent
// to sign-in (PathLogin) with a pending authorization bound to it by
// AuthzCookie, and comes back to Continue.
func (p *Provider) Authorize(ctx context.Context, ar AuthorizationRequest) (Authorization, *PageError) {
	client, req, perr := p.validateClient(ctx, ar.Params)
	if perr != nil {
		return Authorization{}, perr
	}
	a, err := p.authorize(ctx, ar, client, req)
	if err != nil {
		return Authorization{Location: p.redirectError(ctx, req, err)}, nil
	}
	return a, nil
}

// validateClient finds the client and checks the redirect URI, the two
// things that must hold before any error may be redirected.
func (p *Provider) validateClient(ctx context.Context, q url.Values) (directory.Client, *pendingAuthorization, *PageError) {
	if len(q["client_id"]) > 1 || len(q["redirect_uri"]) > 1 {
		return directory.Client{}, nil, BadRequestPage("The request repeats client_id or redirect_uri.")
	}
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" {
		return directory.Client{}, nil, BadRequestPage("The request names no application (client_id is missing).")
	}
	client, err := p.client(ctx, clientID)
	if notFound(err) {
		return client, nil, BadRequestPage("The application asking you to sign in is not registered here (unknown client_id).")
	}
	if err != nil {
		return client, nil, UnavailablePage(err)
	}
	if redirectURI == "" {
		return client, nil, BadRequestPage("The request has no redirect_uri.")
	}
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		return client, nil, BadRequestPage("The redirect_uri is not registered for this application.")
	}
	return client, &pendingAuthorization{ClientID: client.ID, RedirectURI: redirectURI, MaxAge: -1}, nil
}

// client returns a registered client; ids without the cli_ prefix are
// not-found without a lookup.
func (p *Provider) client(ctx context.Context, id string) (directory.Client, error) {
	if !strings.HasPrefix(id, "cli_") || len(id) > 64 {
		return directory.Client{}, directory.ErrNotFound
	}
	return p.dir.GetClient(ctx, id)
}

// authorize validates the rest of the request (errors here are redirected)
// and decides where the browser goes: back to the client with a code, or
// to sign in first.
func (p *Provider) authorize(ctx context.Context, ar AuthorizationRequest, client directory.Client, req *pendingAuthorization) (Authorization, error) {
	q := ar.Params
	if err := parseProtocol(client, req, q); err != nil {
		return Authorization{}, err
	}
	if err := p.parseSignIn(ctx, req, q); err != nil {
		return Authorization{}, err
	}
	req.CreatedAt = p.now().UnixMilli()
	sess, usable, err := p.usableSession(ctx, ar.SessionID, req)
	if err != nil {
		return Authorization{}, err
	}
	if usable {
		code, err := p.issueCode(ctx, req, sess)
		switch {
		case err == nil:
			return Authorization{Location: authorizationResponse(req.RedirectURI, p.issuer.cfg.Issuer, "code", code, "state", req.State)}, nil
		case !errors.Is(err, ErrNoStanding):
			return Authorization{}, err
		}
		// The session no longer grants tokens (member removed, connection
		// disabled): sign in again.
		p.log.InfoContext(ctx, "authorize: session no longer usable", "client_id", client.ID, "session", sess.Handle, "cause", err)
	}
	if req.PromptNone {
		return Authorization{}, oauthErr(CodeLoginRequired, "the user is not signed in")
	}
	return p.toLogin(req, ar.Binding, sess.Handle != "")
}

// parseProtocol checks what OAuth 2.0 and PKCE ask of the request: no
// repeated parameter, no request object, response_type=code in query mode,
// a client allowed the code flow, known scope values, S256 PKCE.
func parseProtocol(client directory.Client, req *pendingAuthorization, q url.Values) error {
	// state first, so that every later error can carry it back.
	if len(q["state"]) == 1 && len(q.Get("state")) <= maxStateLen {
		req.State = q.Get("state")
	}
	for _, k := range authzParams {
		if len(q[k]) > 1 {
			return errInvalidRequest("parameter " + k + " repeated")
		}
	}
	switch {
	case len(q.Get("state")) > maxStateLen:
		return errInvalidRequest("state is too long")
	case q.Has("request"):
		return oauthErr(CodeRequestNotSupported, "request objects are not supported")
	case q.Has("request_uri"):
		return oauthErr(CodeRequestURINotSupported, "request_uri is not supported")
	case q.Get("response_type") == "":
		return errInvalidRequest("response_type is required")
	case q.Get("response_type") != "code":
		return oauthErr(CodeUnsupportedResponseType, "only response_type=code is supported")
	case !slices.Contains(client.GrantTypes, GrantAuthorizationCode):
		return oauthErr(CodeUnauthorizedClient, "the client may not use the authorization code flow")
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		return errInvalidRequest("only response_mode=query is supported")
	}
	scope, err := authorizeScope(q.Get("scope"), slices.Contains(client.GrantTypes, GrantRefreshToken))
	if err != nil {
		return err
	}
	if err := checkAdminScope(client, scope); err != nil {
		return err
	}
	req.Scope = scope
	req.Challenge, err = pkceChallenge(client, q.Get("code_challenge"), q.Get("code_challenge_method"))
	return err
}

// parseSignIn reads what decides the sign-in: prompt, max_age, nonce,
// login_hint, workspace and organization.
func (p *Provider) parseSignIn(ctx context.Context, req *pendingAuthorization, q url.Values) error {
	if err := parsePrompt(req, q.Get("prompt")); err != nil {
		return err
	}
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return errInvalidRequest("max_age must be a non-negative number of seconds")
		}
		req.MaxAge = n
		if n == 0 { // OIDC Core §3.1.2.1: as prompt=login
			req.ForceLogin = true
		}
	}
	if req.PromptNone && req.ForceLogin {
		return errInvalidRequest("prompt=none cannot be combined with a forced login")
	}
	if req.Nonce = q.Get("nonce"); len(req.Nonce) > maxNonceLen {
		return errInvalidRequest("nonce is too long")
	}
	if req.LoginHint = q.Get("login_hint"); len(req.LoginHint) > maxLoginHintLen {
		return errInvalidRequest("login_hint is too long")
	}
	if ws := q.Get("workspace"); ws != "" {
		if !strings.EqualFold(ws, "default") && directory.ValidateWorkspaceName(ws) != nil {
			return oauthErr(CodeInvalidScope, "the token cannot be narrowed to that workspace")
		}
		req.Workspace = ws
	}
	if ref := q.Get("organization"); ref != "" {
		org, err := p.org(ctx, ref)
		if err != nil {
			return err
		}
		req.OrgID = org.ID
	}
	return nil
}

// org resolves the organization parameter (an id or a name).
func (p *Provider) org(ctx context.Context, ref string) (directory.Organization, error) {
	if len(ref) > maxOrgRefLen {
		return directory.Organization{}, errInvalidRequest("organization is too long")
	}
	org, err := p.dir.GetOrg(ctx, ref)
	if notFound(err) {
		return org, errInvalidRequest("unknown organization")
	}
	if err != nil {
		return org, storeErr(err)
	}
	return org, nil
}

// authorizeScope checks the scope values (only those of OpenID Connect and
// ScopeAdmin are known; anything else is invalid_scope; parseProtocol then
// checks the client may ask for ScopeAdmin) and returns them space-separated
// without repeats. offline_access is dropped for clients that may not use
// refresh tokens (OIDC Core §11: the request is then ignored).
func authorizeScope(raw string, refreshAllowed bool) (string, error) {
	var out []string
	for s := range strings.FieldsSeq(raw) {
		if !slices.Contains(oidcScopes[:], s) && s != ScopeAdmin {
			return "", oauthErr(CodeInvalidScope, "unknown scope value")
		}
		if (s == ScopeOfflineAccess && !refreshAllowed) || slices.Contains(out, s) {
			continue
		}
		out = append(out, s)
	}
	if strings.ContainsAny(raw, "\t\r\n\v\f") {
		return "", oauthErr(CodeInvalidScope, "scope values are separated by single spaces")
	}
	return strings.Join(out, " "), nil
}

// pkceChallenge enforces PKCE (RFC 7636, RFC 9700 §2.1.1): S256 only,
// required for public clients, accepted for confidential ones.
func pkceChallenge(client directory.Client, challenge, method string) (string, error) {
	switch {
	case challenge == "" && method != "":
		return "", errInvalidRequest("code_challenge_method without code_challenge")
	case challenge == "" && client.Public:
		return "", errInvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256")
	case challenge == "":
		return "", nil
	case method != "S256":
		// Absent means plain (RFC 7636 §4.3), which is refused too.
		return "", errInvalidRequest("code_challenge_method must be S256")
	case len(challenge) != 43 || !isBase64URL(challenge):
		return "", errInvalidRequest("code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	}
	return challenge, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parsePrompt reads prompt (OIDC Core §3.1.2.1). consent is satisfied
// without asking: clients are first-party. select_account forces sign-in,
// where the user chooses the account and the organization.
func parsePrompt(req *pendingAuthorization, prompt string) error {
	var none, other bool
	for v := range strings.FieldsSeq(prompt) {
		switch v {
		case "none":
			none = true
		case "login", "select_account":
			req.ForceLogin, other = true, true
		case "consent":
			other = true
		default:
			return errInvalidRequest("unknown prompt value")
		}
	}
	if none && other {
		return errInvalidRequest("prompt=none cannot be combined with other values")
	}
	req.PromptNone = none
	return nil
}

// usableSession returns the browser's session and whether it may be used
// without signing in: it exists, no fresh login is forced, it satisfies
// max_age, and it is for the organization asked for. A session that exists
// but is not usable is returned too (its Handle set).
func (p *Provider) usableSession(ctx context.Context, id string, req *pendingAuthorization) (session.Session, bool, error) {
	if id == "" {
		return session.Session{}, false, nil
	}
	sess, err := p.sessions.GetSession(ctx, id)
	if notFound(err) {
		return session.Session{}, false, nil
	}
	if err != nil {
		return session.Session{}, false, storeErr(err)
	}
	switch {
	case req.ForceLogin:
	case req.MaxAge >= 0 && p.now().Sub(sess.AuthTime) > time.Duration(req.MaxAge)*time.Second:
	case req.OrgID != "" && sess.OrgID != req.OrgID:
	default:
		return sess, true, nil
	}
	return sess, false, nil
}

// toLogin seals the pending authorization, binds it to the browser (its
// AuthzCookie binding, or a new one) and sends the browser to sign in with
// it. Nothing is stored: an unauthenticated request costs no server state.
func (p *Provider) toLogin(req *pendingAuthorization, binding string, hadSession bool) (Authorization, error) {
	if !IsRandomToken(binding) {
		binding = RandomToken()
	}
	req.Binding = bindingHash(binding)
	req.ID = randomID()
	// A session too old for max_age is re-authenticated upstream too.
	forceUpstream := req.ForceLogin || (hadSession && req.MaxAge >= 0)
	value, err := json.Marshal(req)
	if err != nil {
		return Authorization{}, errServer(err)
	}
	authz, err := p.sealer.Seal(purposePending, value, time.UnixMilli(req.CreatedAt).Add(p.cfg.PendingTTL))
	if err != nil {
		return Authorization{}, errServer(err)
	}
	if len(authz) > MaxAuthzLen {
		return Authorization{}, errInvalidRequest("the request is too large: state, nonce, login_hint and redirect_uri are too long together")
	}
	v := url.Values{"authz": {authz}}
	if req.LoginHint != "" {
		v.Set("login_hint", req.LoginHint)
	}
	if req.OrgID != "" {
		v.Set("organization", req.OrgID)
	}
	if forceUpstream {
		v.Set("prompt", "login")
	}
	return Authorization{Location: p.cfg.LoginURL + "?" + v.Encode(), Binding: binding}, nil
}

// randomID returns 128 random bits, base64url (22 characters).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// bindingHash is what a pending record keeps of the browser binding.
func bindingHash(v string) string {
	d := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// Continuation is the browser's return to PathAuthorizeContinue after
// sign-in: the sealed pending authorization (the authz query parameter)
// and the values of its cookies.
type Continuation struct {
	Authz     string
	SessionID string
	Binding   string
}

// Continue serves the browser's return from sign-in (package idp sends it
// to PathAuthorizeContinue?authz=<sealed>). It opens the pending
// authorization, checks that this browser started it, reads the session
// idp created, spends the authorization (once: its id is remembered only
// now, after the user proved who they are) and returns the redirect to the
// client with a code — or, when the sign-in does not satisfy the request,
// with an error. A *PageError is shown, never redirected.
func (p *Provider) Continue(ctx context.Context, c Continuation) (string, *PageError) {
	req, client, perr := p.openPending(ctx, c)
	if perr != nil {
		return "", perr
	}
	sess, err := p.signedIn(ctx, c.SessionID, req)
	if err == nil {
		first, rerr := p.sessions.Remember(ctx, session.KindPendingAuthorization, req.ID, p.cfg.PendingTTL)
		switch {
		case rerr != nil:
			return "", UnavailablePage(rerr)
		case !first:
			return "", errPendingSpent()
		}
	}
	var code string
	if err == nil {
		code, err = p.issueCode(ctx, req, sess)
	}
	if errors.Is(err, ErrNoStanding) {
		err = &Error{Code: CodeAccessDenied, Description: "the account may not sign in to this application", Cause: err}
	}
	if err != nil {
		return p.redirectError(ctx, req, err), nil
	}
	p.log.InfoContext(ctx, "authorization code issued after sign-in", "client_id", client.ID, "user", sess.UserID, "org", sess.OrgID, "session", sess.Handle)
	return authorizationResponse(req.RedirectURI, p.issuer.cfg.Issuer, "code", code, "state", req.State), nil
}

func errPendingSpent() *PageError {
	return BadRequestPage("This sign-in request has expired or was already used. Go back to the application and sign in again.")
}

// openPending opens the pending authorization sealed in authz and checks
// the browser binding and, again, the client and its redirect URI. It does
// not spend it: ContinueHandler does, once the session is checked.
func (p *Provider) openPending(ctx context.Context, c Continuation) (*pendingAuthorization, directory.Client, *PageError) {
	expired := errPendingSpent()
	sealed := c.Authz
	if len(sealed) > MaxAuthzLen || !session.LooksSealed(sealed) {
		return nil, directory.Client{}, expired
	}
	raw, err := p.sealer.Open(purposePending, sealed, p.now())
	if err != nil {
		return nil, directory.Client{}, expired
	}
	var req pendingAuthorization
	if err := json.Unmarshal(raw, &req); err != nil || req.ID == "" {
		return nil, directory.Client{}, &PageError{Kind: PageInternal, Title: "Sign-in failed",
			Message: "The sign-in request could not be read.", Cause: err}
	}
	if c.Binding == "" || subtle.ConstantTimeCompare([]byte(bindingHash(c.Binding)), []byte(req.Binding)) != 1 {
		return nil, directory.Client{}, BadRequestPage("This sign-in was started in another browser. Go back to the application and sign in again.")
	}
	// The client may have changed during the sign-in.
	client, err := p.client(ctx, req.ClientID)
	if notFound(err) || (err == nil && !slices.Contains(client.RedirectURIs, req.RedirectURI)) {
		return nil, client, BadRequestPage("The application is no longer registered with this redirect_uri.")
	}
	if err != nil {
		return nil, client, UnavailablePage(err)
	}
	return &req, client, nil
}

// signedIn returns the session sign-in created, if it satisfies the request.
func (p *Provider) signedIn(ctx context.Context, id string, req *pendingAuthorization) (session.Session, error) {
	if id == "" {
		return session.Session{}, oauthErr(CodeAccessDenied, "the sign-in did not complete")
	}
	sess, err := p.sessions.GetSession(ctx, id)
	if notFound(err) {
		return sess, oauthErr(CodeAccessDenied, "the sign-in did not complete")
	}
	if err != nil {
		return sess, storeErr(err)
	}
	switch {
	case req.ForceLogin && sess.AuthTime.UnixMilli() < req.CreatedAt:
		return sess, oauthErr(CodeLoginRequired, "a fresh sign-in was required")
	case req.MaxAge >= 0 && p.now().Sub(sess.AuthTime) > time.Duration(req.MaxAge)*time.Second+p.keys.cfg.Leeway:
		return sess, oauthErr(CodeLoginRequired, "the sign-in is older than max_age")
	case req.OrgID != "" && sess.OrgID != req.OrgID:
		return sess, oauthErr(CodeAccessDenied, "signed in to another organization than the one asked for")
	}
	return sess, nil
}

// authorizationResponse returns redirectURI with the response parameters
// added to its query (RFC 6749 §3.1.2 keeps the registered query) and iss
// (RFC 9207). kv are key/value pairs; empty values are left out.
func authorizationResponse(redirectURI, issuer string, kv ...string) string {
	v := url.Values{"iss": {issuer}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return appendQuery(redirectURI, v)
}

// appendQuery adds v to the query of a registered redirect URI (which has
// no fragment), keeping the query it has byte for byte.
func appendQuery(uri string, v url.Values) string {
	sep := "?"
	switch {
	case strings.HasSuffix(uri, "?"):
		sep = ""
	case strings.Contains(uri, "?"):
		sep = "&"
	}
	return uri + sep + v.Encode()
}

// redirectError returns the redirect that sends err to the client's
// redirect URI. Server errors are logged with their cause and sent as
// server_error or temporarily_unavailable without it.
func (p *Provider) redirectError(ctx context.Context, req *pendingAuthorization, err error) string {
	oe := asOAuth(err)
	if oe.ServerSide() {
		p.log.ErrorContext(ctx, "authorization failed", "client_id", req.ClientID, "error", oe.Code, "cause", oe.Cause)
	} else {
		p.log.InfoContext(ctx, "authorization refused", "client_id", req.ClientID, "error", oe.Code,
			"description", oe.Description, "cause", oe.Cause)
	}
	return authorizationResponse(req.RedirectURI, p.issuer.cfg.Issuer,
		"error", oe.Code, "error_description", oe.Description, "state", req.State)
}
