package idp

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/ssobroker/ssobroker/session"
)

// csrfToken returns this browser's double-submit token, setting the cookie
// when there is none yet.
func (s *Service) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if v := cookieValue(r, CSRFCookie); v != "" {
		return v
	}
	v := randomToken()
	http.SetCookie(w, session.Cookie(CSRFCookie, v, s.secure, 0))
	return v
}

// checkCSRF compares the form's csrf field with the cookie, in constant time.
func (s *Service) checkCSRF(r *http.Request) bool {
	c := cookieValue(r, CSRFCookie)
	return c != "" && sameSecret(r.PostForm.Get("csrf"), c)
}

// donePage is GET /login/done: who is signed in, with a sign-out button.
func (s *Service) donePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := donePageData{LoginURL: s.base + LoginPath, LogoutAction: s.base + LogoutPath}
	id, ok := session.FromRequest(r, SessionCookie)
	if !ok {
		s.render(w, r, http.StatusOK, "done", data)
		return
	}
	sess, err := s.sessions.GetSession(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		s.render(w, r, http.StatusOK, "done", data)
		return
	}
	if err != nil {
		s.fail(w, r, storeFailure("reading the session", err, nil))
		return
	}
	u, err := s.dir.GetUser(ctx, sess.UserID)
	if err != nil {
		s.fail(w, r, storeFailure("user lookup", err, nil))
		return
	}
	org, err := s.dir.GetOrg(ctx, sess.OrgID)
	if err != nil {
		s.fail(w, r, storeFailure("organization lookup", err, nil))
		return
	}
	data.SignedIn, data.Email, data.Name, data.OrgName = true, u.Email, u.Name, org.Name
	data.CSRF = s.csrfToken(w, r)
	s.render(w, r, http.StatusOK, "done", data)
}

// logout is POST /logout: it deletes the browser session and its cookie,
// then sends the browser to sign out at the IdP the session came through
// when that IdP offers it (upstreamlogout.go), else to /login/done.
// RP-initiated logout for clients (/oauth2/logout) belongs to tokens.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !s.checkCSRF(r) {
		s.fail(w, r, failure{status: http.StatusForbidden, title: "Form expired",
			message: "This sign-out form has expired or was sent from another site. Please try again.",
			log:     "CSRF token missing or wrong on the logout form", err: err, level: slog.LevelWarn})
		return
	}
	id, ok := session.FromRequest(r, SessionCookie)
	if !ok {
		s.cookie.Clear(w)
		s.redirect(w, r, s.base+LoginDonePath)
		return
	}
	// Read first: the session says which IdP to sign out of.
	sess, err := s.sessions.GetSession(r.Context(), id)
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		s.fail(w, r, storeFailure("reading the session", err, nil))
		return
	}
	if err := s.sessions.DeleteSession(r.Context(), id); err != nil {
		s.fail(w, r, storeFailure("deleting the session", err, nil))
		return
	}
	s.log.InfoContext(r.Context(), "signed out", "session", sess.Handle)
	s.cookie.Clear(w)
	if sess.Data[SessionDataUpstreamLogout] == "" {
		s.redirect(w, r, s.base+LoginDonePath)
		return
	}
	s.continueLogout(w, r, handoffFor(sess, s.issuer+LoginDonePath))
}
