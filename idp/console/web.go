package console

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/templates"
)

// actor is the signed-in person a console request acts for.
type actor struct {
	sess session.Session
	// pa is the person's current standing in the session's org, from
	// SessionStanding.
	pa directory.PrincipalAccess
	// csrf is this browser's double-submit token.
	csrf string
	// flash is the message left by the previous action, if any.
	flash *flash
}

func (a *actor) orgID() string  { return a.pa.Org.ID }
func (a *actor) userID() string { return a.sess.UserID }

// membership returns the actor's membership of workspace wsID, or nil.
func (a *actor) membership(wsID string) *access.Membership {
	for i := range a.pa.Workspaces {
		if a.pa.Workspaces[i].WorkspaceID == wsID {
			m := a.pa.Workspaces[i].Membership
			return &m
		}
	}
	return nil
}

// permissions is the one permission function applied to the actor in
// workspace wsID ("" for org-scoped permissions only).
func (a *actor) permissions(wsID string) access.Set {
	var m *access.Membership
	if wsID != "" {
		m = a.membership(wsID)
	}
	return access.Effective(a.pa.Member.Role, m, a.pa.Org.Settings.Access())
}

func (a *actor) isAdmin() bool { return a.permissions("").Has(access.OrgAdmin) }

type handler func(w http.ResponseWriter, r *http.Request, a *actor)

// signedIn authenticates a request by its browser session: no session sends
// the browser to sign in (and back); a session whose sign-in no longer
// grants access gets a page saying so; an unreadable store is a 503 page.
// POSTs are refused with a 403 page unless their CSRF token matches.
func (c *Console) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := c.authenticate(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodPost && !c.checkCSRF(w, r) {
			c.message(w, r, a, http.StatusForbidden, "Form expired",
				"This form has expired or was sent from another site, so nothing was changed. Go back, reload the page and try again.")
			return
		}
		h(w, r, a)
	}
}

// admin is signedIn for /admin/{org}/…: {org} must be the session's org (by
// id or name; any other is 404, exactly like an org that does not exist) and
// the person must hold org.admin (else a 403 page naming what is missing).
func (c *Console) admin(h handler) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, a *actor) {
		ref := r.PathValue("org")
		if ref != a.pa.Org.ID && !strings.EqualFold(ref, a.pa.Org.Name) {
			c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such page.")
			return
		}
		if !a.isAdmin() {
			c.message(w, r, a, http.StatusForbidden, "Admins only",
				"This page needs the org.admin permission: ask an admin of "+a.pa.Org.Name+".")
			return
		}
		h(w, r, a)
	})
}

func (c *Console) authenticate(w http.ResponseWriter, r *http.Request) (*actor, bool) {
	ctx := r.Context()
	id, ok := session.FromRequest(r, idp.SessionCookie)
	if !ok {
		c.redirect(w, r, c.loginURL(r))
		return nil, false
	}
	sess, err := c.sessions.GetSession(ctx, id)
	if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrInvalid) {
		c.redirect(w, r, c.loginURL(r))
		return nil, false
	}
	if err != nil {
		c.unavailable(w, r, "reading the session", err)
		return nil, false
	}
	pa, err := c.store.SessionStanding(ctx, sess.OrgID, sess.UserID, sess.ConnectionID)
	if errors.Is(err, directory.ErrNoStanding) {
		c.log.InfoContext(ctx, "console: session without standing", "err", err)
		c.render(w, r, http.StatusForbidden, "console/message", c.view(r, nil, "", "Sign in again", messageData{
			Message:  "Your sign-in no longer grants access to this organization. Sign in again, or ask an admin of your organization.",
			LinkURL:  c.loginURL(r),
			LinkText: "Sign in again",
		}))
		return nil, false
	}
	if err != nil {
		c.unavailable(w, r, "checking the session", err)
		return nil, false
	}
	a := &actor{sess: sess, pa: pa, csrf: c.csrfToken(w, r)}
	if r.Method == http.MethodGet {
		a.flash = c.takeFlash(w, r)
	}
	return a, true
}

// csrfToken returns this browser's double-submit token (the cookie idp's
// forms use, so the console's sign-out form posts to idp's /logout), setting
// the cookie when there is none.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if v, ok := session.FromRequest(r, idp.CSRFCookie); ok && isToken(v) {
		return v
	}
	v := randomToken()
	http.SetCookie(w, session.Cookie(idp.CSRFCookie, v, c.secure, 0))
	// Later reads in this request see the new cookie.
	r.Header.Add("Cookie", idp.CSRFCookie+"="+v)
	return v
}

// checkCSRF parses the form (bounded) and compares its csrf field with the
// cookie in constant time.
func (c *Console) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	parse := r.ParseForm
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		// A file upload (IdP metadata): the fields land in PostForm too.
		parse = func() error { return r.ParseMultipartForm(maxFormBytes) }
	}
	if err := parse(); err != nil {
		return false
	}
	cookie, ok := session.FromRequest(r, idp.CSRFCookie)
	form := r.PostForm.Get("csrf")
	return ok && isToken(cookie) && subtle.ConstantTimeCompare([]byte(form), []byte(cookie)) == 1
}

// maxFormBytes bounds every form the console accepts.
const maxFormBytes = 64 << 10

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func isToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func deriveKey(key []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, key, nil, info, 32)
	if err != nil {
		panic("console: hkdf: " + err.Error()) // only for a length hkdf cannot produce; 32 always works
	}
	return k
}

// flash is the one-line result of the previous action, carried across the
// redirect that follows it in a short-lived signed cookie.
type flash struct {
	// Kind is "ok" or "error".
	Kind    string `json:"k"`
	Message string `json:"m"`
	Expires int64  `json:"e"`
}

const (
	flashCookie  = "ssb_flash"
	flashTTL     = 60 * time.Second
	maxFlashText = 500
)

// setFlash leaves a message for the next page this browser loads.
func (c *Console) setFlash(w http.ResponseWriter, kind, message string) {
	if len(message) > maxFlashText {
		message = message[:maxFlashText] + "…"
	}
	b, _ := json.Marshal(flash{Kind: kind, Message: message, Expires: c.now().Add(flashTTL).Unix()})
	body := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, c.flashKey)
	m.Write([]byte(body))
	v := body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	http.SetCookie(w, session.Cookie(flashCookie, v, c.secure, flashTTL))
}

// takeFlash reads and clears the flash cookie; a forged, expired or
// malformed one is ignored.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	v, ok := session.FromRequest(r, flashCookie)
	if !ok {
		return nil
	}
	http.SetCookie(w, session.Cookie(flashCookie, "", c.secure, -1))
	body, sig, ok := strings.Cut(v, ".")
	if !ok || len(v) > 2048 {
		return nil
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil
	}
	m := hmac.New(sha256.New, c.flashKey)
	m.Write([]byte(body))
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(raw, &f) != nil || c.now().Unix() > f.Expires || (f.Kind != "ok" && f.Kind != "error") {
		return nil
	}
	return &f
}

// done ends a successful action: the flash says what happened and the
// browser is sent to target with a GET (POST-redirect-GET).
func (c *Console) done(w http.ResponseWriter, r *http.Request, target, message string) {
	c.setFlash(w, "ok", message)
	c.redirect(w, r, target)
}

// refused ends an action the directory refused, when the page has no form
// to keep: the flash says why.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, target string, err error) {
	if _, msg, ok := refusal(err); ok {
		c.setFlash(w, "error", msg)
		c.redirect(w, r, target)
		return
	}
	c.storeError(w, r, nil, err)
}

// refusal turns a directory error a person can act on into an HTTP status
// and the directory's own sentence; ok is false for anything else (a store
// failure).
func refusal(err error) (int, string, bool) {
	var inv *directory.InvariantError
	var con *directory.ConflictError
	var bad *directory.InvalidError
	var nf *directory.NotFoundError
	var fe *formError
	switch {
	case errors.As(err, &fe):
		return fe.Status, fe.Message, true
	case errors.As(err, &inv):
		return http.StatusConflict, inv.Message, true
	case errors.As(err, &con):
		return http.StatusConflict, con.Message, true
	case errors.As(err, &bad):
		return http.StatusUnprocessableEntity, bad.Message, true
	case errors.As(err, &nf):
		return http.StatusNotFound, nf.Error(), true
	case errors.Is(err, directory.ErrVersionMismatch):
		return http.StatusConflict, "someone else changed this meanwhile: reload the page and try again", true
	case errors.Is(err, directory.ErrNotFound):
		return http.StatusNotFound, "not found", true
	}
	return 0, "", false
}

// formError is a form the console refuses before the directory sees it
// (a choice missing, a grant the person may not make): the status and the
// sentence shown above the form.
type formError struct {
	Status  int
	Message string
}

func (e *formError) Error() string { return e.Message }

// sentence makes a refusal's message a sentence: a capital first letter and
// a final full stop.
func sentence(msg string) string {
	msg = upperFirst(msg)
	if strings.HasSuffix(msg, ".") || strings.HasSuffix(msg, "?") || strings.HasSuffix(msg, "!") {
		return msg
	}
	return msg + "."
}

// showOnce answers the creation of something whose secret (an API key, an
// invitation's accept link) page renders into this answer only: never into
// a cookie, a redirect or a log, and never stored. The flash says what was
// created; the status is 201.
func (c *Console) showOnce(a *actor, message string, page func(status int)) {
	a.flash = &flash{Kind: "ok", Message: message}
	page(http.StatusCreated)
}

// dispatch runs the handler routes holds for name, or answers the console's
// 404 page ("There is no such page." or "… action.", by what).
func (c *Console) dispatch(w http.ResponseWriter, r *http.Request, a *actor, name, what string, routes map[string]func()) {
	if h, ok := routes[name]; ok {
		h()
		return
	}
	c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such "+what+".")
}

// redirect answers 303 to target with the pages' security headers.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, target string) {
	templates.SetSecurityHeaders(w.Header())
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if err := c.pages.Render(w, status, name, v); err != nil {
		c.log.ErrorContext(r.Context(), "console: rendering a page failed", "page", name, "err", err)
	}
}

// messageData is the data of the "console/message" page.
type messageData struct {
	Message, LinkURL, LinkText string
}

// message renders a page with one sentence (a refusal, an error).
func (c *Console) message(w http.ResponseWriter, r *http.Request, a *actor, status int, title, msg string) {
	d := messageData{Message: msg}
	if a != nil {
		d.LinkURL, d.LinkText = c.base+"/account", "Go to your account"
	}
	c.render(w, r, status, "console/message", c.view(r, a, "", title, d))
}

func (c *Console) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.ErrorContext(r.Context(), "console: "+what+" failed", "err", err)
	c.render(w, r, http.StatusServiceUnavailable, "console/message", c.view(r, nil, "", "Temporarily unavailable",
		messageData{Message: "We could not complete this step. Please try again in a moment."}))
}

// storeError answers an error of the directory or the session store: a
// refusal is a page with its sentence, anything else 503 or 500.
func (c *Console) storeError(w http.ResponseWriter, r *http.Request, a *actor, err error) {
	if status, msg, ok := refusal(err); ok {
		title := "Not possible"
		if status == http.StatusNotFound {
			title = "Not found"
		}
		c.message(w, r, a, status, title, sentence(msg))
		return
	}
	if errors.Is(err, directory.ErrUnavailable) || errors.Is(err, session.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		c.unavailable(w, r, "a store call", err)
		return
	}
	c.log.ErrorContext(r.Context(), "console: request failed", "path", r.URL.Path, "err", err)
	c.render(w, r, http.StatusInternalServerError, "console/message", c.view(r, a, "", "Something went wrong",
		messageData{Message: "Something went wrong on our side. Please try again."}))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// adminPath is the URL of an admin tab (with optional more path segments).
func (c *Console) adminPath(a *actor, parts ...string) string {
	p := c.base + "/admin/" + url.PathEscape(a.orgID())
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}
