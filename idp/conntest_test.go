package idp_test

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
	"github.com/ssobroker/ssobroker/session"
)

// snapshot is every row of every table of the SQLite directory at path, as
// text: two equal snapshots mean the directory did not change at all.
func snapshot(t testing.TB, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var out strings.Builder
	for _, tbl := range tables {
		r, err := db.Query(`SELECT * FROM "` + tbl + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		var lines []string
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%q", vals))
		}
		r.Close()
		sort.Strings(lines)
		fmt.Fprintf(&out, "== %s (%d rows)\n%s\n", tbl, len(lines), strings.Join(lines, "\n"))
	}
	return out.String()
}

// testWorld is a broker on a SQLite directory whose file the test reads.
func testWorld(t *testing.T) (*world, string) {
	path := filepath.Join(t.TempDir(), "directory.db")
	dir, err := directory.OpenSQLite(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Close)
	mem := session.NewMemory(session.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	return newWorld(t, dir, mem, nil), path
}

// wantNoTrace checks that org has no member but its admin, no identity
// and no audit entry of a sign-in.
func (w *world) wantNoTrace(orgID string, email string) {
	t := w.t
	t.Helper()
	if _, found := w.userByEmail(orgID, email); found {
		t.Fatalf("the test sign-in made %s a member", email)
	}
	events, _, err := w.dir.ListAudit(bg, orgID, directory.AuditFilter{Page: directory.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		switch e.Action {
		case "login", "user.create", "member.jit", "identity.claim", "invitation.accept", "join_request.create":
			t.Fatalf("the test sign-in left the audit entry %+v", e)
		}
	}
}

func TestTestSignInProvisionsNobody(t *testing.T) {
	t.Run("SAML: the identity, attributes and mapped roles are shown; the directory is byte-for-byte unchanged", func(t *testing.T) {
		w, path := testWorld(t)
		ip := samltest.NewIdP(t, "https://idp.example.test/saml")
		o := w.org("Acme "+rnd(), directory.JITAuto, "acme-"+rnd()+".test")
		c := w.samlConn(o.ID, ip, nil, map[string]any{"group_roles": map[string]string{"ml-admins": "admin"},
			"group_workspaces": map[string]any{"ml-admins": map[string]string{"research": "owner"}}})
		w.setEnabled(c, false) // a test comes before activation
		test, testURL, err := w.svc.StartConnectionTest(bg, "usr_admin", c, func(id string) string { return "/admin/" + o.ID + "/tests/" + id })
		if err != nil {
			t.Fatal(err)
		}
		if test.Status != directory.TestPending {
			t.Fatalf("new test %+v", test)
		}
		b := newBrowser(t)
		p := b.get(testURL)
		reqID, relay, forced := samlRequestOf(t, testLink(t, p))
		if !forced {
			t.Fatal("a test's AuthnRequest must ask the IdP to authenticate again (ForceAuthn)")
		}
		before := snapshot(t, path)
		email := "ada@" + strings.TrimPrefix(must[[]directory.Domain](t)(w.dir.ListDomains(bg, o.ID))[0].Domain, "")
		doc := ip.Response(t, w.samlParams(c, reqID, email, "ml-admins", "staff"), samltest.Options{})
		p = b.post(w.svc.CallbackURL(c), samltest.Form(doc, relay))
		wantStatus(t, p, http.StatusSeeOther)
		wantNoSession(t, p)
		if loc := p.location(); loc == nil || loc.Path != "/admin/"+o.ID+"/tests/"+test.ID {
			t.Fatalf("landed at %v", p.location())
		}
		if after := snapshot(t, path); after != before {
			t.Fatalf("the test sign-in changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		w.wantNoTrace(o.ID, email)
		res := must[directory.ConnectionTest](t)(w.svc.ConnectionTest(bg, o.ID, c.ID, test.ID))
		if res.Status != directory.TestSucceeded || res.Identity == nil || res.Mapping == nil {
			t.Fatalf("result %+v", res)
		}
		id, m := res.Identity, res.Mapping
		if id.Subject != email || id.Email != email || !id.EmailVerified || id.Issuer != "https://idp.example.test/saml" ||
			strings.Join(id.Groups, ",") != "ml-admins,staff" || strings.Join(id.Attributes["displayName"], ",") != "Test User" {
			t.Fatalf("identity %+v", id)
		}
		if m.MappedOrgRole != access.RoleAdmin || m.OrgRole != access.RoleAdmin || m.Workspaces["research"] != access.WorkspaceOwner ||
			m.JITMode != directory.JITAuto || res.StartedBy != "usr_admin" || res.CompletedAt == nil {
			t.Fatalf("mapping %+v of %+v", m, res)
		}
		// The result is read again and again until it expires; it is
		// another connection's or org's for nobody.
		must[directory.ConnectionTest](t)(w.svc.ConnectionTest(bg, o.ID, c.ID, test.ID))
		if _, err := w.svc.ConnectionTest(bg, "org_other", c.ID, test.ID); err == nil {
			t.Fatal("another org read the test")
		}
		// The one-time URL does not start a second test.
		p = newBrowser(t).get(testURL)
		wantStatus(t, p, http.StatusNotFound, "expired or was already used")
	})

	t.Run("SAML: a refusal is the test's result with its reason code, and no failure is kept for the connection", func(t *testing.T) {
		w, path := testWorld(t)
		ip := samltest.NewIdP(t, "https://idp.example.test/saml")
		o := w.org("Beta "+rnd(), directory.JITInviteOnly, "beta-"+rnd()+".test")
		c := w.samlConn(o.ID, ip, nil, nil)
		test, testURL := must2[directory.ConnectionTest, string](t)(w.svc.StartConnectionTest(bg, "usr_admin", c, nil))
		b := newBrowser(t)
		p := b.get(testURL)
		reqID, relay, _ := samlRequestOf(t, testLink(t, p))
		before := snapshot(t, path)
		params := w.samlParams(c, reqID, "bob@beta.test")
		params.SPEntityID = "https://other-sp.example/saml/metadata"
		p = b.post(w.svc.CallbackURL(c), samltest.Form(ip.Response(t, params, samltest.Options{}), relay))
		wantStatus(t, p, http.StatusOK, "Test sign-in refused", "saml.audience")
		wantNoSession(t, p)
		if after := snapshot(t, path); after != before {
			t.Fatalf("the refused test changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		res := must[directory.ConnectionTest](t)(w.svc.ConnectionTest(bg, o.ID, c.ID, test.ID))
		if res.Status != directory.TestFailed || res.Reason != "saml.audience" || res.Cause != idp.CauseResponse || res.Reference == "" ||
			!strings.Contains(strings.ToLower(res.Message), "audience") {
			t.Fatalf("result %+v", res)
		}
		w.wantLogged("test sign-in refused", res.Reference, test.ID)
	})

	t.Run("OIDC: a real sign-in at oidc-provider; invite-only org: the newcomer would be refused, and is not provisioned", func(t *testing.T) {
		requireUpstreamPeer(t)
		w, path := testWorld(t)
		o := w.org("Gamma "+rnd(), directory.JITInviteOnly, "")
		pc := w.conn(o.ID, "Corp OIDC")
		pc.enabled = false
		pc.extra = map[string]any{"group_roles": map[string]string{"eng": "platform_member"}}
		up := startUpstream(t, w.callbacks(pc), true)
		c := w.configure(pc, up)
		test, testURL := must2[directory.ConnectionTest, string](t)(w.svc.StartConnectionTest(bg, "usr_admin", c, func(id string) string { return "/done/" + id }))
		b := newBrowser(t)
		p := b.get(testURL)
		link := testLink(t, p)
		if link.Query().Get("prompt") != "login" {
			t.Fatalf("a test asks the IdP to authenticate again (prompt=login): %v", link)
		}
		p = page{url: p.url, status: http.StatusSeeOther, header: http.Header{"Location": {link.String()}}}
		before := snapshot(t, path)
		acct := account{id: "u-" + rnd(), email: "grace@gamma.test", name: "Grace H", groups: []string{"eng"}}
		cb := w.flow(b, p, acct, nil)
		p = b.get(cb.String())
		wantStatus(t, p, http.StatusSeeOther)
		wantNoSession(t, p)
		if loc := p.location(); loc == nil || loc.Path != "/done/"+test.ID {
			t.Fatalf("landed at %v", p.location())
		}
		if after := snapshot(t, path); after != before {
			t.Fatalf("the test sign-in changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		w.wantNoTrace(o.ID, acct.email)
		res := must[directory.ConnectionTest](t)(w.svc.ConnectionTest(bg, o.ID, c.ID, test.ID))
		if res.Status != directory.TestSucceeded || res.Identity.Subject != acct.id || res.Identity.Email != acct.email ||
			res.Identity.Name != acct.name || strings.Join(res.Identity.Groups, ",") != "eng" ||
			res.Mapping.OrgRole != access.RolePlatformMember || res.Mapping.JITMode != directory.JITInviteOnly ||
			len(res.Identity.Attributes["email"]) != 1 || res.Identity.Attributes["nonce"] != nil {
			t.Fatalf("result %+v identity %+v mapping %+v", res, res.Identity, res.Mapping)
		}
	})

	t.Run("a forged or replayed test URL starts nothing and stores nothing", func(t *testing.T) {
		w, _ := testWorld(t)
		for _, u := range []string{idp.TestStartPath + "not-a-token", idp.TestStartPath + strings.Repeat("A", 43)} {
			p := newBrowser(t).get(w.url(u))
			wantStatus(t, p, http.StatusNotFound, "expired or was already used")
			if p.cookie(idp.BindingCookie) != nil {
				t.Fatalf("%s set a cookie", u)
			}
		}
	})
}

var continueLink = regexp.MustCompile(`<a class="button" href="([^"]+)">Continue to the identity provider</a>`)

// testLink is the IdP URL of a test's start page (a page that says what
// is about to happen, with a link to go on).
func testLink(t testing.TB, p page) *url.URL {
	t.Helper()
	wantStatus(t, p, http.StatusOK, "Test sign-in of")
	m := continueLink.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no link to the IdP on the test's start page:\n%s", p.body)
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func must2[A, B any](t testing.TB) func(A, B, error) (A, B) {
	return func(a A, b B, err error) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

// samlRequestOf reads the AuthnRequest of a redirect to the IdP: its ID,
// the RelayState and whether it asks for ForceAuthn.
func samlRequestOf(t testing.TB, loc *url.URL) (id, relay string, forceAuthn bool) {
	t.Helper()
	if loc == nil || loc.Query().Get("SAMLRequest") == "" {
		t.Fatalf("not sent to the IdP with a SAMLRequest: %v", loc)
	}
	raw, err := base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	return d.Root().SelectAttrValue("ID", ""), loc.Query().Get("RelayState"), d.Root().SelectAttrValue("ForceAuthn", "") == "true"
}
