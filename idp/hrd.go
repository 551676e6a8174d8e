package idp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// loginRequest is what a login carries from /login to the callback: the
// parameters tokens (or a link) passed, validated.
type loginRequest struct {
	// Authz is the opaque pending-authorization id of tokens.
	Authz        string
	LoginHint    string
	Organization string
	ReturnTo     string
	// ForceReauth is prompt=login: the IdP must authenticate the user again.
	ForceReauth bool
	// test is the id of the test sign-in this login runs (conntest.go);
	// only testStartPage sets it, never a request parameter.
	test string
}

// errBadParam is a login parameter that fails validation; its text is shown.
type errBadParam string

func (e errBadParam) Error() string { return string(e) }

// parseLoginRequest validates the login parameters of a query or form.
// An invalid authz or return_to is refused (never silently dropped: a
// dropped authz would end the login on the wrong page); an unusable
// login_hint is ignored, as OIDC says of hints.
func parseLoginRequest(v url.Values) (loginRequest, error) {
	lr := loginRequest{
		Authz:        v.Get(AuthzParam),
		LoginHint:    strings.TrimSpace(v.Get("login_hint")),
		Organization: strings.TrimSpace(v.Get("organization")),
		ReturnTo:     v.Get(ReturnToParam),
	}
	if lr.Authz != "" && !ValidAuthz(lr.Authz) {
		return lr, errBadParam("This sign-in link is not valid (authz).")
	}
	if lr.ReturnTo != "" && !ValidReturnTo(lr.ReturnTo) {
		return lr, errBadParam("This sign-in link is not valid (return address).")
	}
	if lr.Authz != "" {
		lr.ReturnTo = "" // the client's redirect decides where the login ends
	}
	if len(lr.LoginHint) > 254 || hasControl(lr.LoginHint) {
		lr.LoginHint = ""
	}
	if len(lr.Organization) > 200 || hasControl(lr.Organization) {
		return lr, errBadParam("This sign-in link is not valid (organization).")
	}
	for _, p := range strings.Fields(v.Get("prompt")) {
		if p == "login" {
			lr.ForceReauth = true
		}
	}
	return lr, nil
}

// values encodes lr as login parameters (without organization: the org is
// in the path or found again from the email).
func (lr loginRequest) values() url.Values {
	q := url.Values{}
	if lr.Authz != "" {
		q.Set(AuthzParam, lr.Authz)
	}
	if lr.ReturnTo != "" {
		q.Set(ReturnToParam, lr.ReturnTo)
	}
	if lr.LoginHint != "" {
		q.Set("login_hint", lr.LoginHint)
	}
	if lr.ForceReauth {
		q.Set("prompt", "login")
	}
	return q
}

// query is values as "?…", or "" when empty.
func (lr loginRequest) query() string {
	q := lr.values()
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

func (lr loginRequest) prompt() string {
	if lr.ForceReauth {
		return "login"
	}
	return ""
}

// clipForPage bounds a user-supplied value shown on a page or logged.
func clipForPage(s string) string {
	if len(s) <= 64 && !hasControl(s) {
		return s
	}
	r := []rune(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s))
	if len(r) > 64 {
		r = append(r[:64], '…')
	}
	return string(r)
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// emailDomain returns the domain of something shaped like an email, or "".
func emailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " \t\r\n<>") {
		return ""
	}
	return strings.ToLower(email[at+1:])
}

func badParam(err error) failure {
	return failure{status: http.StatusBadRequest, title: "Invalid sign-in link", message: err.Error(),
		retry: &loginRequest{}, log: "invalid login parameters", err: err, level: slog.LevelInfo}
}

// loginPage is GET /login: home-realm discovery. organization or an email
// login_hint skip the form.
func (s *Service) loginPage(w http.ResponseWriter, r *http.Request) {
	lr, err := parseLoginRequest(r.URL.Query())
	if err != nil {
		s.fail(w, r, badParam(err))
		return
	}
	switch {
	case lr.Organization != "":
		s.startForOrg(w, r, lr, lr.Organization, "", false)
	case emailDomain(lr.LoginHint) != "":
		s.discover(w, r, lr, false)
	default:
		s.renderLogin(w, r, http.StatusOK, lr, "")
	}
}

// renderLogin shows the email form.
func (s *Service) renderLogin(w http.ResponseWriter, r *http.Request, status int, lr loginRequest, problem string) {
	s.render(w, r, status, "login", loginPageData{
		Action: s.base + LoginPath, CSRF: s.csrfToken(w, r), Authz: lr.Authz, ReturnTo: lr.ReturnTo,
		Prompt: lr.prompt(), Email: lr.LoginHint, Error: problem,
	})
}

// maxFormBytes bounds the body of our forms.
const maxFormBytes = 16 << 10

// loginSubmit is POST /login: the email form.
func (s *Service) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, failure{status: http.StatusBadRequest, title: "Invalid request", message: "The form could not be read.",
			retry: &loginRequest{}, log: "unreadable login form", err: err, level: slog.LevelInfo})
		return
	}
	lr, err := parseLoginRequest(r.PostForm)
	if err != nil {
		s.fail(w, r, badParam(err))
		return
	}
	if !s.checkCSRF(r) {
		s.fail(w, r, failure{status: http.StatusForbidden, title: "Form expired",
			message: "This sign-in form has expired or was sent from another site. Please try again.",
			retry:   &loginRequest{Authz: lr.Authz, ReturnTo: lr.ReturnTo, ForceReauth: lr.ForceReauth},
			log:     "CSRF token missing or wrong on the login form", level: slog.LevelWarn})
		return
	}
	lr.LoginHint = strings.TrimSpace(r.PostForm.Get("email"))
	if emailDomain(lr.LoginHint) == "" || hasControl(lr.LoginHint) {
		s.renderLogin(w, r, http.StatusBadRequest, lr, "Enter your work email address, such as you@example.com.")
		return
	}
	s.discover(w, r, lr, true)
}

// discover finds the org that verified the domain of lr.LoginHint.
func (s *Service) discover(w http.ResponseWriter, r *http.Request, lr loginRequest, viaForm bool) {
	domain := emailDomain(lr.LoginHint)
	d, err := s.dir.FindVerifiedDomain(r.Context(), domain)
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrInvalid):
		s.log.InfoContext(r.Context(), "home-realm discovery: no organization for the domain", "domain", domain)
		retry := lr
		retry.LoginHint = ""
		s.render(w, r, http.StatusNotFound, "message", messagePageData{
			Title:   "No organization found",
			Message: "No organization uses sign-in for " + domain + ". Check the address, or ask your administrator for your organization's sign-in link.",
			LinkURL: s.loginPageURL(retry), LinkText: "Use another email",
		})
		return
	case err != nil:
		s.fail(w, r, storeFailure("home-realm discovery", err, &lr))
		return
	}
	s.startForOrg(w, r, lr, d.OrgID, "", viaForm)
}

// orgLogin is GET /login/{org}: the org's sign-in methods, or the one
// ?connection= names.
func (s *Service) orgLogin(w http.ResponseWriter, r *http.Request) {
	lr, err := parseLoginRequest(r.URL.Query())
	if err != nil {
		s.fail(w, r, badParam(err))
		return
	}
	s.startForOrg(w, r, lr, r.PathValue("org"), r.URL.Query().Get("connection"), false)
}

// startForOrg picks the org's connection: the one asked for, the only one,
// or a page to choose.
func (s *Service) startForOrg(w http.ResponseWriter, r *http.Request, lr loginRequest, orgRef, connID string, viaForm bool) {
	ctx := r.Context()
	org, err := s.dir.GetOrg(ctx, orgRef)
	if errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrInvalid) {
		lr.Organization = ""
		s.fail(w, r, failure{status: http.StatusNotFound, title: "No organization found",
			message: "There is no organization named " + clipForPage(orgRef) + ".", retry: &lr,
			log: "unknown organization", level: slog.LevelInfo}, "org", clipForPage(orgRef))
		return
	}
	if err != nil {
		s.fail(w, r, storeFailure("organization lookup", err, &lr))
		return
	}
	all, err := s.dir.ListConnections(ctx, org.ID)
	if err != nil {
		s.fail(w, r, storeFailure("connection list", err, &lr))
		return
	}
	var usable []directory.Connection
	for _, c := range all {
		if c.Enabled && s.opts.Connectors[c.Type] != nil && (connID == "" || c.ID == connID) {
			usable = append(usable, c)
		}
	}
	switch {
	case len(usable) == 0:
		msg := org.Name + " has no sign-in method enabled. Ask your administrator."
		if connID != "" {
			msg = "This sign-in method of " + org.Name + " is not available."
		}
		s.fail(w, r, failure{status: http.StatusNotFound, title: "No sign-in method", message: msg,
			log: "no enabled connection", level: slog.LevelInfo}, "org", org.ID, "connection", connID)
	case len(usable) == 1:
		s.start(w, r, lr, org, usable[0], viaForm)
	default:
		data := choosePageData{OrgName: org.Name}
		for _, c := range usable {
			data.Choices = append(data.Choices, choice{Name: c.Name, URL: s.orgPageURL(org.ID, c.ID, lr)})
		}
		s.render(w, r, http.StatusOK, "choose", data)
	}
}

// loginState travels with the browser between the redirect upstream and the
// callback: sealed (purpose: its kind and its key, so it opens only for the
// state or RelayState it was issued with) in the cookie
// LoginStateCookiePrefix+key[:12]. Nothing is stored until the IdP has
// authenticated the user; then the key is remembered (session.KindLoginState
// or session.KindSAMLRequest) so that it is used once.
type loginState struct {
	Connection string `json:"c"`
	Org        string `json:"o"`
	Nonce      string `json:"n"`
	Verifier   string `json:"v"`
	// Binding is the hash of the browser's BindingCookie value.
	Binding  string `json:"b"`
	Authz    string `json:"a,omitempty"`
	ReturnTo string `json:"r,omitempty"`
	Force    bool   `json:"f,omitempty"`
	// RequestID is the ID of the SAML AuthnRequest sent (SAML logins only).
	RequestID string `json:"q,omitempty"`
	// Test is the id of the test sign-in this login runs: its callback
	// keeps the result and provisions nobody (conntest.go).
	Test string `json:"t,omitempty"`
}

// start sends the browser to connection c's IdP. After a form post the
// answer is a page that navigates by itself: a redirect would be blocked by
// the form's CSP form-action 'self' in browsers that apply it to redirects.
func (s *Service) start(w http.ResponseWriter, r *http.Request, lr loginRequest, org directory.Organization, c directory.Connection, viaForm bool) {
	ctx := r.Context()
	conn, err := s.connector(ctx, c)
	if err != nil {
		s.fail(w, r, connectorFailure(err, &lr), "org", org.ID, "connection", c.ID)
		return
	}
	st := loginState{Connection: c.ID, Org: org.ID, Authz: lr.Authz, ReturnTo: lr.ReturnTo, Force: lr.ForceReauth, Test: lr.test}
	binding := cookieValue(r, BindingCookie)
	if binding == "" {
		binding = randomToken()
	}
	st.Binding = bindingHash(binding)
	var opts []LoginOption
	if lr.ForceReauth {
		opts = append(opts, ForceReauthentication)
	}
	// key names the login: the OIDC state parameter or the SAML
	// RelayState (at most 80 bytes, SAML bindings §3.4.3), a random token.
	key := randomToken()
	var kind session.Kind
	var target string
	var post *SAMLRequest
	switch cn := conn.(type) {
	case CallbackConnector:
		kind = session.KindLoginState
		st.Nonce, st.Verifier = randomToken(), randomToken()
		target, err = cn.LoginURL(ctx, key, st.Nonce, pkceChallenge(st.Verifier), s.CallbackURL(c), lr.LoginHint, opts...)
	case SAMLConnector:
		kind = session.KindSAMLRequest
		// Signing an AuthnRequest costs an RSA signature: bounded per source.
		if !s.samlStarts.allow(s.opts.Sources.Of(r)) {
			w.Header().Set("Retry-After", "60")
			s.fail(w, r, failure{status: http.StatusTooManyRequests, title: "Too many sign-in attempts",
				message: "Too many sign-in attempts from your network, try again in a minute.",
				log:     "SAML sign-in starts over the per-source budget", level: slog.LevelDebug},
				"connection", c.ID)
			return
		}
		var req SAMLRequest
		if req, err = cn.AuthnRequest(ctx, key, s.CallbackURL(c), lr.LoginHint, opts...); err == nil {
			st.RequestID, target = req.ID, req.URL
			if req.Form != nil {
				post = &req
			}
		}
	default:
		s.fail(w, r, failure{status: http.StatusNotImplemented, title: "Sign-in method not available",
			message: "This kind of sign-in method is not supported yet. Ask your administrator.",
			log:     "connector has no known capability", level: slog.LevelError}, "connection", c.ID, "type", c.Type)
		return
	}
	if err == nil {
		err = checkNavigable(target)
	}
	if err != nil {
		s.fail(w, r, connectorFailure(err, &lr), "org", org.ID, "connection", c.ID)
		return
	}
	raw, err := json.Marshal(st)
	var sealed string
	if err == nil {
		sealed, err = s.sealer.Seal(statePurpose(kind, key), raw, s.now().Add(s.opts.LoginStateTTL))
	}
	if err == nil && len(stateCookieName(key))+len(sealed) > maxStateCookie {
		err = fmt.Errorf("sealed login state of %d bytes does not fit a cookie", len(sealed))
	}
	if err != nil {
		s.fail(w, r, failure{status: http.StatusInternalServerError, title: "Sign-in failed",
			message: "This sign-in could not be started. Please try again.", retry: &lr,
			log: "sealing the login state failed", err: err, level: slog.LevelError}, "connection", c.ID)
		return
	}
	http.SetCookie(w, s.stateCookie(key, sealed))
	http.SetCookie(w, session.Cookie(BindingCookie, binding, s.secure, 0))
	s.log.InfoContext(ctx, "sign-in: redirecting upstream", "org", org.ID, "connection", c.ID, "for_client", lr.Authz != "", "test", lr.test)
	switch {
	case post != nil:
		s.autoPost(w, r, post.URL, "Taking you to "+c.Name+"…", post.Form, "*")
	case lr.test != "":
		// A test says what is about to happen, and the admin goes on.
		s.render(w, r, http.StatusOK, "message", messagePageData{Title: "Test sign-in of " + c.Name,
			Message: "Sign in at the identity provider as the person to test. You will see what it sends and the roles it would give; nobody is signed in or provisioned.",
			LinkURL: target, LinkText: "Continue to the identity provider"})
	case viaForm:
		s.render(w, r, http.StatusOK, "redirect", redirectPageData{URL: target, Name: c.Name})
	default:
		s.redirect(w, r, target)
	}
}

// statePurpose is what a login state is sealed for: its kind and its key.
func statePurpose(kind session.Kind, key string) string {
	return "idp " + string(kind) + " " + key
}

// maxStateCookie bounds a login-state cookie's name and value: browsers
// keep cookies of up to 4096 bytes with their attributes.
const maxStateCookie = 3900

// stateCookieName names the cookie carrying the login state of key.
func stateCookieName(key string) string { return LoginStateCookiePrefix + key[:min(12, len(key))] }

// stateCookie carries a sealed login state to the callbacks (Path /sso/:
// every connection's, so that a state used at another connection's callback
// is recognised and refused as such); an empty sealed value deletes it.
func (s *Service) stateCookie(key, sealed string) *http.Cookie {
	ttl := s.opts.LoginStateTTL
	if sealed == "" {
		ttl = -1
	}
	c := session.Cookie(stateCookieName(key), sealed, s.secure, ttl)
	c.Path = s.base + "/sso/"
	return c
}

// pkceChallenge is the S256 challenge of verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	d := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// checkNavigable refuses a login URL that is not absolute http(s): the
// authorization endpoint comes from the IdP's discovery document.
func checkNavigable(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.Join(ErrConfig, errors.New("the identity provider's login URL is not an http(s) URL"))
	}
	return nil
}
