package oauth

import (
	"net/http"
	"net/url"

	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// maxAuthzQuery bounds the authorization and logout requests' parameters.
const maxAuthzQuery = 16 << 10

// AuthorizeHandler serves GET and POST /oauth2/authorize (see
// tokens.Provider.Authorize): the parameters come from the query (GET) or
// the form body (POST), never both; a page error is shown, anything else
// redirected, with the browser's AuthzCookie set when sign-in needs it.
func (s *Server) AuthorizeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, perr := authorizeParams(w, r)
		if perr != nil {
			s.page(w, r, perr)
			return
		}
		a, perr := s.provider.Authorize(r.Context(), tokens.AuthorizationRequest{Params: q,
			SessionID: cookie(r, session.CookieName), Binding: cookie(r, tokens.AuthzCookie)})
		if perr != nil {
			s.page(w, r, perr)
			return
		}
		if a.Binding != "" {
			cs := s.provider.CookieSettings()
			c := session.Cookie(tokens.AuthzCookie, a.Binding, cs.Secure, cs.MaxAge)
			c.Path = cs.BasePath + tokens.PathAuthorize
			http.SetCookie(w, c)
		}
		redirect(w, r, a.Location)
	})
}

// ContinueHandler serves GET /oauth2/authorize/continue?authz=<sealed>,
// where package idp sends the browser after sign-in (see
// tokens.Provider.Continue).
func (s *Server) ContinueHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		location, perr := s.provider.Continue(r.Context(), tokens.Continuation{Authz: r.URL.Query().Get("authz"),
			SessionID: cookie(r, session.CookieName), Binding: cookie(r, tokens.AuthzCookie)})
		if perr != nil {
			s.page(w, r, perr)
			return
		}
		redirect(w, r, location)
	})
}

// cookie returns the value of the request's cookie name, empty without one.
func cookie(r *http.Request, name string) string {
	v, ok := session.FromRequest(r, name)
	if !ok {
		return ""
	}
	return v
}

// authorizeParams reads the query (GET) or the form body (POST), never both.
func authorizeParams(w http.ResponseWriter, r *http.Request) (url.Values, *tokens.PageError) {
	if r.Method == http.MethodPost {
		if !hasMediaType(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			return nil, tokens.BadRequestPage("The request body must be application/x-www-form-urlencoded.")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAuthzQuery)
		if err := r.ParseForm(); err != nil {
			return nil, tokens.BadRequestPage("The request is malformed.")
		}
		return r.PostForm, nil
	}
	if len(r.URL.RawQuery) > maxAuthzQuery {
		return nil, tokens.BadRequestPage("The request is too large.")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, tokens.BadRequestPage("The request is malformed.")
	}
	return q, nil
}

// redirect answers 302 to a GET and 303 to a POST.
func redirect(w http.ResponseWriter, r *http.Request, location string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	h := w.Header()
	noStore(h)
	h.Set("Location", location)
	w.WriteHeader(status)
}
