package oauth

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"

	"github.com/ssobroker/ssobroker/tokens"
)

// The provider's few pages: errors that may not be redirected, the logout
// confirmation and "signed out". They are inline so that the token service needs no
// template files; they carry the same security headers as package
// templates' pages.
const pagesHTML = `
{{define "layout"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}button{font-size:1rem;padding:.5rem 1rem}</style></head>
<body><main><h1>{{.Title}}</h1>{{template "body" .}}</main></body></html>{{end}}

{{define "error"}}{{template "layout" .}}{{end}}
{{define "signedout"}}{{template "layout" .}}{{end}}
{{define "logout"}}{{template "layout" .}}{{end}}
`

const errorBody = `{{define "body"}}<p>{{.Message}}</p>{{end}}`

const signedOutBody = `{{define "body"}}<p>You are signed out.</p>{{if .Message}}<p>{{.Message}}</p>{{end}}{{end}}`

const logoutBody = `{{define "body"}}<p>Do you want to sign out?</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
{{if .ClientID}}<input type="hidden" name="client_id" value="{{.ClientID}}">{{end}}
{{if .RedirectURI}}<input type="hidden" name="post_logout_redirect_uri" value="{{.RedirectURI}}">{{end}}
{{if .State}}<input type="hidden" name="state" value="{{.State}}">{{end}}
<button type="submit">Sign out</button></form>{{end}}`

// pageData is what every page reads.
type pageData struct {
	Title, Message string
	// Logout confirmation.
	Action, CSRF, ClientID, RedirectURI, State string
}

// pages are the parsed pages by name.
type pages map[string]*template.Template

// parsePages parses the pages, each in its own set (each defines "body").
func parsePages() (pages, error) {
	pages := pages{}
	for name, body := range map[string]string{"error": errorBody, "signedout": signedOutBody, "logout": logoutBody} {
		t, err := template.New(name).Parse(pagesHTML)
		if err == nil {
			_, err = t.Parse(body)
		}
		if err != nil {
			return nil, fmt.Errorf("tokens: page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// contentSecurityPolicy of every page: nothing loads, forms post only to
// us, nobody frames us. formAction adds the origin a form's answer may
// redirect to (Chrome applies form-action to that redirect).
func contentSecurityPolicy(formAction string) string {
	fa := "'self'"
	if formAction != "" {
		fa += " " + formAction
	}
	return "default-src 'none'; style-src 'unsafe-inline'; form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}

// render writes page name with status.
func (s *Server) render(w http.ResponseWriter, status int, name string, data pageData, formAction string) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, name, data); err != nil {
		s.provider.Logger().Error("rendering a page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy(formAction))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	noStore(h)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageStatus is the HTTP status of each kind of page error.
func pageStatus(k tokens.PageKind) int {
	switch k {
	case tokens.PageUnavailable:
		return http.StatusServiceUnavailable
	case tokens.PageInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// page shows an authorization- or logout-endpoint error that may not be
// redirected.
func (s *Server) page(w http.ResponseWriter, r *http.Request, e *tokens.PageError) {
	status := pageStatus(e.Kind)
	if status >= 500 {
		s.provider.Logger().ErrorContext(r.Context(), "authorization page error", "path", r.URL.Path, "status", status, "cause", e.Cause)
	} else {
		s.provider.Logger().InfoContext(r.Context(), "authorization request refused", "path", r.URL.Path, "reason", e.Message)
	}
	s.render(w, status, "error", pageData{Title: e.Title, Message: e.Message}, "")
}
