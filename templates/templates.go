// Package templates holds the broker's server-rendered HTML: the sign-in
// pages of package idp now, the provider pages of package tokens and the
// admin console later. Pages are html/template files embedded in the binary
// (html/*.html) that share one layout; Render writes a page with the
// security headers every page of ours carries.
//
// A page file defines two templates, "title" and "content"; the layout
// (html/layout.html) wraps them. Page names are file names without ".html".
// Data is whatever the page reads; the layout reads nothing but the page's
// "title". Adding a page is adding a file: Load parses every file of html/.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed html/*.html
var files embed.FS

// ContentSecurityPolicy is sent with every page: nothing loads from
// anywhere, styles are inline, forms post only to us, nobody frames us.
//
// form-action 'self' also applies to the redirects that follow a form
// submission (Chrome enforces it there), so a form whose answer leads to
// another origin must answer with a page that navigates on its own (see the
// "redirect" page), not with a redirect.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// layoutName is the file that wraps every page.
const layoutName = "layout"

// ErrUnknownPage is returned by Render and Execute for a name with no page.
var ErrUnknownPage = errors.New("templates: unknown page")

// Set is the parsed pages. It is safe for concurrent use.
type Set struct {
	pages map[string]*template.Template
}

// Load parses the embedded pages. It fails only if a page does not parse,
// which tests catch before a release.
func Load() (*Set, error) {
	return parse(files)
}

func parse(fsys fs.FS) (*Set, error) {
	layout, err := template.New(layoutName).Funcs(funcs()).ParseFS(fsys, "html/"+layoutName+".html")
	if err != nil {
		return nil, fmt.Errorf("templates: layout: %w", err)
	}
	names, err := fs.Glob(fsys, "html/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	s := &Set{pages: map[string]*template.Template{}}
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == layoutName {
			continue
		}
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		if _, err := t.ParseFS(fsys, file); err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// funcs are the helpers every page may call.
func funcs() template.FuncMap {
	return template.FuncMap{
		// join joins strings with sep, for lists such as AMR values.
		"join": strings.Join,
	}
}

// Names lists the pages, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.pages))
	for n := range s.pages {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Execute writes page name with data to w, without headers. It fails with
// ErrUnknownPage or the template's execution error.
func (s *Set) Execute(w io.Writer, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPage, name)
	}
	if err := t.ExecuteTemplate(w, layoutName, data); err != nil {
		return fmt.Errorf("templates: %s: %w", name, err)
	}
	return nil
}

// Render writes page name with data as the whole response, with status and
// the security headers (SetSecurityHeaders). The page is rendered into
// memory first, so a failing template never sends half a page: on failure
// Render answers a bare 500 and returns the error for the caller to log.
func (s *Set) Render(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	err := s.Execute(&buf, name, data)
	h := w.Header()
	SetSecurityHeaders(h)
	if err != nil {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "Internal error.\n")
		return err
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err = buf.WriteTo(w)
	return err
}

// SetSecurityHeaders sets the headers every page and every redirect of the
// sign-in flow carries, unless the caller already set that header (a page
// needing another policy sets it first): the Content-Security-Policy above,
// X-Frame-Options DENY, no caching (pages carry CSRF tokens and personal
// data), no MIME sniffing, and no Referer, so upstream IdPs and the apps we
// redirect to never see our URLs and their query parameters.
func SetSecurityHeaders(h http.Header) {
	for k, v := range map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
}

// AutoPostScript submits the first form of the page: the "post" page's
// only script, which AutoPostPolicy allows by its hash.
const AutoPostScript = "document.forms[0].submit()"

// AutoPostPolicy is the Content-Security-Policy of the "post" page: the
// common policy, plus AutoPostScript (by its SHA-256) and forms posting to
// formAction ("'self'", an origin such as "https://idp.example", or "*").
func AutoPostPolicy(formAction string) string {
	sum := sha256.Sum256([]byte(AutoPostScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; style-src 'self' 'unsafe-inline'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// Field is one hidden input of the "post" page.
type Field struct{ Name, Value string }

// AutoPost is the data of the "post" page: a form of hidden fields posted
// to Action by AutoPostScript, or by the user's click without scripts.
type AutoPost struct {
	Action  string
	Fields  []Field
	Message string
	Script  template.JS
}

// NewAutoPost returns the page data posting fields (sorted by name) to
// action.
func NewAutoPost(action, message string, fields map[string][]string) AutoPost {
	p := AutoPost{Action: action, Message: message, Script: AutoPostScript}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range fields[n] {
			p.Fields = append(p.Fields, Field{Name: n, Value: v})
		}
	}
	return p
}
