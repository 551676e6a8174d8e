package idp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/templates"
)

// Page data. Field names are what templates/html/*.html read.

type loginPageData struct {
	Action, CSRF, Authz, ReturnTo, Prompt, Email, Error string
}

type choice struct{ Name, URL string }

type choosePageData struct {
	OrgName string
	Choices []choice
}

type redirectPageData struct{ URL, Name string }

type messagePageData struct {
	Title, Message, LinkURL, LinkText, Ref string
	// Cause says whether availability or a policy stopped the sign-in.
	Cause string
}

type donePageData struct {
	SignedIn                                           bool
	Email, Name, OrgName, CSRF, LogoutAction, LoginURL string
}

// render writes a page; a template failure is logged (the user gets a bare 500).
func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if err := s.pages.Render(w, status, name, data); err != nil {
		s.log.ErrorContext(r.Context(), "rendering a sign-in page failed", "page", name, "err", err)
	}
}

// redirect answers 303 to target with the pages' security headers.
func (s *Service) redirect(w http.ResponseWriter, r *http.Request, target string) {
	templates.SetSecurityHeaders(w.Header())
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// failure is a sign-in that cannot go on: a page for the user, a log line
// for the operator. The page never carries the error itself.
type failure struct {
	status         int
	title, message string
	// retry, when set, offers "Start again" with these login parameters.
	retry *loginRequest
	// log says what happened, for the operator; err is its cause.
	log   string
	err   error
	level slog.Level
}

// fail logs f with a short reference shown on the page, so a user's report
// can be matched to the log line.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, f failure, attrs ...any) {
	ref := newRef()
	args := append([]any{"ref", ref, "status", f.status, "path", r.URL.Path}, attrs...)
	if f.err != nil {
		args = append(args, "err", f.err)
	}
	reason, cause := failureReason(r, f)
	args = append(args, "reason", reason)
	if st, ok := testOf(r); ok {
		s.log.Log(r.Context(), f.level, "test sign-in refused: "+f.log, append(args, "test", st.Test)...)
		s.failTest(w, r, st, f, reason, cause, ref)
		return
	}
	s.log.Log(r.Context(), f.level, "sign-in failed: "+f.log, args...)
	s.noteFailure(r.Context(), attrString(attrs, "org"), attrString(attrs, "connection"), reason, cause, ref)
	data := messagePageData{Title: f.title, Message: f.message, Ref: ref, Cause: causeSentence(cause)}
	if f.retry != nil {
		data.LinkURL, data.LinkText = s.base+LoginPath+f.retry.query(), "Start again"
	}
	s.render(w, r, f.status, "message", data)
}

func newRef() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// unavailable is the failure for a store that cannot be reached.
func unavailable(what string, err error, retry *loginRequest) failure {
	return failure{status: http.StatusServiceUnavailable, title: "Sign-in is temporarily unavailable",
		message: "We could not complete this step. Please try again in a moment.", retry: retry,
		log: what + " unavailable", err: err, level: slog.LevelError}
}

// storeFailure classifies an error of the directory or the session store:
// unavailable stores are 503s; anything else is a 500 whose detail stays in
// the log.
func storeFailure(what string, err error, retry *loginRequest) failure {
	if errors.Is(err, directory.ErrUnavailable) || errors.Is(err, session.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) {
		return unavailable(what, err, retry)
	}
	return failure{status: http.StatusInternalServerError, title: "Sign-in failed",
		message: "Something went wrong on our side. Please try again.", retry: retry,
		log: what + " failed", err: err, level: slog.LevelError}
}

// connectorFailure turns a connector's error into a failure.
func connectorFailure(err error, retry *loginRequest) failure {
	var up *UpstreamError
	switch {
	case errors.As(err, &up):
		status := http.StatusBadRequest
		if up.Code == "access_denied" {
			status = http.StatusForbidden
		}
		return failure{status: status, title: "Sign-in was not completed",
			message: "Your identity provider did not sign you in (" + up.Code + "). If this is unexpected, ask your administrator.",
			retry:   retry, log: "the identity provider answered with an error", err: err, level: slog.LevelWarn}
	case errors.Is(err, ErrEmailNotVerified):
		return failure{status: http.StatusForbidden, title: "Email address not verified",
			message: "Your identity provider has not confirmed that your email address is verified, so it cannot be used to sign in. Ask your administrator.",
			log:     "email not verified by the identity provider", err: err, level: slog.LevelWarn}
	case errors.Is(err, ErrMissingClaim):
		return failure{status: http.StatusForbidden, title: "Sign-in failed",
			message: "Your identity provider did not send the information needed to sign you in (a user identifier and an email address). Ask your administrator.",
			log:     "a required claim is missing", err: err, level: slog.LevelWarn}
	case errors.Is(err, ErrUpstreamUnavailable), errors.Is(err, ErrBlockedAddress):
		return failure{status: http.StatusBadGateway, title: "Identity provider unavailable",
			message: "We could not reach your organization's identity provider. Please try again in a moment.",
			retry:   retry, log: "the identity provider could not be used", err: err, level: slog.LevelError}
	case errors.Is(err, ErrConfig):
		return failure{status: http.StatusInternalServerError, title: "Sign-in method misconfigured",
			message: "Your organization's sign-in method is not configured correctly. Ask your administrator.",
			log:     "the connection's configuration is unusable", err: err, level: slog.LevelError}
	case errors.Is(err, ErrInvalidResponse):
		return failure{status: http.StatusBadRequest, title: "Sign-in failed",
			message: "The answer from your identity provider could not be accepted. Please start again.",
			retry:   retry, log: "the identity provider's answer was refused", err: err, level: slog.LevelWarn}
	case errors.Is(err, context.Canceled):
		return failure{status: http.StatusBadRequest, title: "Sign-in failed", message: "The request was cancelled.",
			retry: retry, log: "request cancelled", err: err, level: slog.LevelInfo}
	default:
		return failure{status: http.StatusInternalServerError, title: "Sign-in failed",
			message: "Something went wrong on our side. Please try again.", retry: retry,
			log: "unexpected connector error", err: err, level: slog.LevelError}
	}
}

// loginPageURL returns the login page URL carrying lr.
func (s *Service) loginPageURL(lr loginRequest) string {
	return s.base + LoginPath + lr.query()
}

// orgPageURL returns /login/{org} carrying lr, choosing connection connID when set.
func (s *Service) orgPageURL(orgID, connID string, lr loginRequest) string {
	q := lr.values()
	if connID != "" {
		q.Set("connection", connID)
	}
	u := s.base + LoginPath + "/" + url.PathEscape(orgID)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}
