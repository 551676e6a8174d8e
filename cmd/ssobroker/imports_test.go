package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md ("Import rules"), checked over the
// module's real package graph as `go list` reports it. Data flows one way:
// directory and session are leaves, tokens and idp build on them and never on
// each other, and cmd/ssobroker only wires.

const modulePath = "github.com/ssobroker/ssobroker"

// corePackages are the packages whose logic must be callable without a
// request: they may not import net/http, except where httpAllowed says why.
var corePackages = []string{
	"directory",
	"directory/access",
	"directory/secretbox",
	"session",
	"tokens",
}

// httpAllowed lists the core packages that import net/http today, each with
// the reason. An entry that is no longer needed fails the test, so the list
// only shrinks.
var httpAllowed = map[string]string{
	"session": "cookie.go builds and reads the session cookie (http.Cookie, *http.Request) and " +
		"source.go reads a request's network source; both parse a request, neither serves one",
}

// crossTestAllowed lists the external test packages (package x_test) of
// tokens or idp that drive both halves together, each with the reason. Only
// such a test may import the other half; the packages themselves never do.
var crossTestAllowed = map[string]string{
	"idp": "flood_test.go floods /oauth2/authorize and /login/{org} together and proves a browser " +
		"still gets through both to its code (docs/security.md, \"Abuse resistance: sign-in state\")",
}

// testSupport lists the test-support packages every package's tests may
// import, leaves included, each with what it holds. Such a package imports
// nothing of ours and no non-test code imports it (both checked).
var testSupport = map[string]string{
	"internal/certtest": "self-signed certificates and keys for tests (standard library only)",
}

// listedPackage is the part of `go list -json` the rules read.
type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages runs `go list -e -json` over the whole module.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the package graph: %v", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(goBin, "list", "-e", "-json", modulePath+"/...")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rel returns path relative to the module ("directory/access"), and whether
// it is a package of ours at all.
func rel(path string) (string, bool) {
	if path == modulePath {
		return "", true
	}
	r, ok := strings.CutPrefix(path, modulePath+"/")
	return r, ok
}

// under reports whether package r is folder root or inside it.
func under(r, root string) bool { return r == root || strings.HasPrefix(r, root+"/") }

// importViolations checks every rule over pkgs and returns one sentence per
// violation; none means the graph is clean. core and allowHTTP are the
// net/http rule's inputs.
func importViolations(pkgs []listedPackage, core []string, allowHTTP map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	httpUsers := map[string]bool{}
	for _, p := range pkgs {
		from, ours := rel(p.ImportPath)
		if !ours {
			continue
		}
		seen[from] = true
		if slices.Contains(core, from) && slices.Contains(p.Imports, "net/http") {
			httpUsers[from] = true
			if allowHTTP[from] == "" {
				out = append(out, fmt.Sprintf("%s imports net/http: core packages stay callable without a request (move the handlers out, or add a reasoned entry to httpAllowed)", from))
			}
		}
		imports := map[string]bool{}
		for _, list := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
			for _, imp := range list {
				imports[imp] = true
			}
		}
		for _, imp := range slices.Sorted(maps.Keys(imports)) {
			to, ours := rel(imp)
			if !ours || to == from {
				continue
			}
			if testSupport[to] != "" {
				if slices.Contains(p.Imports, imp) {
					out = append(out, fmt.Sprintf("%s imports %s outside its tests: test-support packages serve tests only", from, to))
				}
				continue
			}
			if testSupport[from] != "" {
				out = append(out, fmt.Sprintf("%s imports %s: a test-support package imports nothing of ours", from, to))
				continue
			}
			for _, leaf := range []string{"directory", "session", "templates"} {
				if under(from, leaf) && !under(to, leaf) {
					out = append(out, fmt.Sprintf("%s imports %s: %s/... imports no other package of ours", from, to, leaf))
				}
			}
			if under(from, "tokens") && under(to, "idp") || under(from, "idp") && under(to, "tokens") {
				if crossTestAllowed[from] != "" && !slices.Contains(p.Imports, imp) && !slices.Contains(p.TestImports, imp) {
					continue // an integration test of both halves, listed with its reason
				}
				out = append(out, fmt.Sprintf("%s imports %s: tokens and idp never import each other (the session store is the hand-off)", from, to))
			}
			if under(to, "cmd") && !under(from, "cmd") {
				out = append(out, fmt.Sprintf("%s imports %s: nobody imports cmd, which only wires", from, to))
			}
		}
	}
	for _, c := range core {
		if !seen[c] {
			out = append(out, fmt.Sprintf("core package %s is not in the module any more: update corePackages", c))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(allowHTTP)) {
		if seen[c] && !httpUsers[c] {
			out = append(out, fmt.Sprintf("%s no longer imports net/http: remove its httpAllowed entry", c))
		}
	}
	return out
}

func TestImportsFollowTheArchitecture(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < len(corePackages) {
		t.Fatalf("go list found %d packages; the graph cannot be checked", len(pkgs))
	}
	for _, v := range importViolations(pkgs, corePackages, httpAllowed) {
		t.Error(v)
	}
}

// The checker itself, on made-up graphs: each rule catches its violation, and
// a clean graph passes.
func TestImportCheckerCatchesEachRule(t *testing.T) {
	std := map[string]bool{"context": true, "strings": true, "html/template": true, "net/http": true}
	// p is package path importing imports: ours by module-relative path,
	// the standard library's as listed in std.
	p := func(path string, imports ...string) listedPackage {
		lp := listedPackage{ImportPath: modulePath + "/" + path}
		for _, i := range imports {
			if !std[i] {
				i = modulePath + "/" + i
			}
			lp.Imports = append(lp.Imports, i)
		}
		return lp
	}
	core := []string{"directory", "session", "tokens"}
	clean := []listedPackage{
		p("directory", "directory/access", "context"),
		p("directory/access", "strings"),
		p("session", "context"),
		p("templates", "html/template"),
		p("tokens", "directory", "directory/access", "session"),
		p("tokens/verify", "directory/access", "net/http"),
		p("idp", "directory", "session", "templates", "net/http"),
		p("idp/oidc", "idp", "directory"),
		p("cmd/ssobroker", "directory", "session", "tokens", "idp", "net/http"),
	}
	t.Run("a clean graph passes", func(t *testing.T) {
		if v := importViolations(clean, core, nil); len(v) != 0 {
			t.Fatalf("violations in a clean graph: %q", v)
		}
	})
	cases := []struct {
		name  string
		graph []listedPackage
		allow map[string]string
		want  string
	}{
		{"directory imports nothing of ours", append(slices.Clone(clean), p("directory/adminapi", "directory", "tokens")), nil,
			"directory/adminapi imports tokens: directory/... imports no other package of ours"},
		{"session imports nothing of ours", append(slices.Clone(clean), p("session/x", "directory")), nil,
			"session/x imports directory: session/... imports no other package of ours"},
		{"templates imports nothing of ours", append(slices.Clone(clean), p("templates/x", "session")), nil,
			"templates/x imports session: templates/... imports no other package of ours"},
		{"tokens does not import idp", append(slices.Clone(clean), p("tokens/opik", "tokens", "idp")), nil,
			"tokens/opik imports idp: tokens and idp never import each other"},
		{"idp does not import tokens", append(slices.Clone(clean), p("idp/saml", "idp", "tokens/verify")), nil,
			"idp/saml imports tokens/verify: tokens and idp never import each other"},
		{"nobody imports cmd", append(slices.Clone(clean), p("bench/x", "cmd/ssobroker")), nil,
			"bench/x imports cmd/ssobroker: nobody imports cmd"},
		{"a core package without an allow-list entry does not import net/http", append(slices.Clone(clean[1:]), p("directory", "net/http")), nil,
			"directory imports net/http: core packages stay callable without a request"},
		{"a stale allow-list entry fails", clean, map[string]string{"session": "it used to"},
			"session no longer imports net/http: remove its httpAllowed entry"},
		{"a core package that disappeared fails", clean[1:], nil,
			"core package directory is not in the module any more"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := importViolations(c.graph, core, c.allow)
			if !slices.ContainsFunc(v, func(s string) bool { return strings.HasPrefix(s, c.want) }) {
				t.Fatalf("want a violation starting %q, got %q", c.want, v)
			}
		})
	}
	t.Run("test imports count too", func(t *testing.T) {
		g := append(slices.Clone(clean), listedPackage{ImportPath: modulePath + "/idp/x", XTestImports: []string{modulePath + "/tokens"}})
		if v := importViolations(g, core, nil); len(v) != 1 {
			t.Fatalf("want one violation for a test import of tokens from idp, got %q", v)
		}
	})
	t.Run("tests of a leaf may import a test-support package", func(t *testing.T) {
		g := append(slices.Clone(clean), p("internal/certtest", "strings"),
			listedPackage{ImportPath: modulePath + "/directory/webhooks", TestImports: []string{modulePath + "/internal/certtest"}})
		if v := importViolations(g, core, nil); len(v) != 0 {
			t.Fatalf("violations: %q", v)
		}
	})
	t.Run("non-test code may not import a test-support package", func(t *testing.T) {
		g := append(slices.Clone(clean), p("internal/certtest", "strings"), p("directory/webhooks", "internal/certtest"))
		v := importViolations(g, core, nil)
		if len(v) != 1 || !strings.HasPrefix(v[0], "directory/webhooks imports internal/certtest outside its tests") {
			t.Fatalf("want one violation for non-test code importing internal/certtest, got %q", v)
		}
	})
	t.Run("a test-support package imports nothing of ours", func(t *testing.T) {
		g := append(slices.Clone(clean), p("internal/certtest", "directory"))
		v := importViolations(g, core, nil)
		if len(v) != 1 || !strings.HasPrefix(v[0], "internal/certtest imports directory: a test-support package imports nothing of ours") {
			t.Fatalf("want one violation for internal/certtest importing directory, got %q", v)
		}
	})
	t.Run("an allow-listed core package may import net/http", func(t *testing.T) {
		g := append(slices.Clone(clean[1:]), p("directory", "net/http"))
		if v := importViolations(g, core, map[string]string{"directory": "a reason"}); len(v) != 0 {
			t.Fatalf("violations: %q", v)
		}
	})
}
