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
//
// The admin console's pages live in html/console/: their layout is
// html/console/_layout.html, files whose names start with "_" are partials
// every console page may call, and a page's name is "console/" followed by
// its file name without ".html".
//
// No page carries inline style or script: stylesheets and the console's
// script are embedded files under static/, served by StaticHandler at
// StaticPath and named in pages by the "asset" function, which adds a
// content hash so that a new release is never served a stale file.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed html/*.html html/console/*.html static/*
var files embed.FS

// StaticPath is where StaticHandler serves the embedded static files.
const StaticPath = "/static/"

// ContentSecurityPolicy is sent with every page: scripts and styles load
// only from our own static files (never inline), images only from us,
// scripts fetch only from us (the console's dialog loads its pages with
// fetch), forms post only to us, nobody frames us.
//
// form-action 'self' also applies to the redirects that follow a form
// submission (Chrome enforces it there), so a form whose answer leads to
// another origin must answer with a page that navigates on its own (see the
// "redirect" page), not with a redirect.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// layoutName is the file that wraps every page.
const layoutName = "layout"

// consolePrefix starts the name of every console page.
const consolePrefix = "console/"

// ErrUnknownPage is returned by Render and Execute for a name with no page.
var ErrUnknownPage = errors.New("templates: unknown page")

// Set is the parsed pages. It is safe for concurrent use.
type Set struct {
	pages map[string]*template.Template
}

// assets maps a static file's name to its URL with a content hash.
type assets map[string]string

// Load parses the embedded pages. It fails only if a page does not parse,
// which tests catch before a release.
func Load() (*Set, error) {
	return parse(files)
}

func parse(fsys fs.FS) (*Set, error) {
	urls, err := assetURLs(fsys)
	if err != nil {
		return nil, err
	}
	s := &Set{pages: map[string]*template.Template{}}
	if err := s.addPages(fsys, urls, "html/", ""); err != nil {
		return nil, err
	}
	if err := s.addPages(fsys, urls, "html/console/", consolePrefix); err != nil {
		return nil, err
	}
	return s, nil
}

// addPages parses every page of dir with dir's layout (and, in the console
// directory, its "_" partials), naming each page prefix + file name.
func (s *Set) addPages(fsys fs.FS, urls assets, dir, prefix string) error {
	layoutFile := dir + layoutName + ".html"
	if prefix != "" {
		layoutFile = dir + "_" + layoutName + ".html"
	}
	layout, err := template.New(layoutName).Funcs(funcs(urls)).ParseFS(fsys, layoutFile)
	if err != nil {
		return fmt.Errorf("templates: %slayout: %w", prefix, err)
	}
	names, err := fs.Glob(fsys, dir+"*.html")
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	var pages []string
	for _, file := range names {
		base := path.Base(file)
		switch {
		case file == layoutFile || base == layoutName+".html":
		case strings.HasPrefix(base, "_"):
			if _, err := layout.ParseFS(fsys, file); err != nil {
				return fmt.Errorf("templates: %s%s: %w", prefix, base, err)
			}
		default:
			pages = append(pages, file)
		}
	}
	for _, file := range pages {
		name := prefix + strings.TrimSuffix(path.Base(file), ".html")
		t, err := layout.Clone()
		if err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		if _, err := t.ParseFS(fsys, file); err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// assetURLs names each static file by StaticPath + name + "?v=" + the first
// 12 hex digits of its SHA-256.
func assetURLs(fsys fs.FS) (assets, error) {
	names, err := fs.Glob(fsys, "static/*")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	out := assets{}
	for _, file := range names {
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		sum := sha256.Sum256(b)
		out[path.Base(file)] = StaticPath + path.Base(file) + "?v=" + hex.EncodeToString(sum[:6])
	}
	return out, nil
}

// funcs are the helpers every page may call.
func funcs(urls assets) template.FuncMap {
	return template.FuncMap{
		// join joins strings with sep, for lists such as AMR values.
		"join": strings.Join,
		// asset returns the URL of static file name; an unknown name fails
		// the page (a test renders every page).
		"asset": func(name string) (string, error) {
			u, ok := urls[name]
			if !ok {
				return "", fmt.Errorf("templates: no static file %q", name)
			}
			return u, nil
		},
		// datetime formats a time for tables: UTC, to the minute; the zero
		// time is "—".
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		// dict makes a map of key, value pairs, to pass several values to
		// a partial template.
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("templates: dict needs key, value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, errors.New("templates: dict keys are strings")
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		// date formats a time as its UTC date.
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		},
	}
}

// StaticHandler serves the embedded static files (stylesheets, the
// console's script) under StaticPath. URLs carry a content hash (see
// "asset"), so a file may be cached for a day.
func StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, StaticPath)
		if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(files, "static/"+name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(b)
	})
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
		"'; style-src 'self'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
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
