//go:build unix

package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestAccountOrgSwitch proves /account's org switcher
// (docs/org-switching.md) in Chromium against a fresh `ssobroker serve`:
// an admin of two orgs (two `admin bootstrap` runs with the same email)
// switches the browser session from one to the other with the page's
// button — a POST form, no JavaScript needed — without signing in again,
// and the page then says which org the session is in; switching back works
// too. axe-core checks every page (no serious or critical violation) and
// no page logs a console error or breaks its Content-Security-Policy.
func TestAccountOrgSwitch(t *testing.T) {
	peers.RequireChromium(t)
	peers.RequireNode(t, "playwright-core", "axe-core", "smtp-server", "mailparser", "jose")
	w := startConsoleWorld(t)
	w.signInWithLink(t) // signed in to Acme
	const beta = "Beta Switch"
	out, err := w.tryCLI("admin", "bootstrap", "--org", beta, "--email", adminEmail, "--json")
	if err != nil {
		t.Fatalf("second bootstrap: %v\n%s", err, out)
	}
	link := signInLinkRE.FindString(out)
	if link == "" {
		t.Fatalf("no sign-in link in:\n%s", out)
	}
	d := w.drv
	d.goto_(t, "admin", link)
	p := d.click(t, "admin", "#redeem-link button[type=submit]")
	if p.Status != http.StatusOK || p.H1 != "General" {
		t.Fatalf("after the second link: %d %s %q", p.Status, p.URL, p.H1)
	}

	p = d.goto_(t, "admin", w.issuer+"/account")
	if !strings.Contains(p.Text, "Signed in to "+beta) {
		t.Fatalf("/account before switching: %q", cutString(p.Text, 600))
	}
	rows := d.texts(t, "admin", "#orgs tbody th")
	if len(rows) != 2 {
		t.Fatalf("/account lists %d orgs (%q), want 2", len(rows), rows)
	}
	w.shot(t, "admin", "account-two-orgs")

	p = d.click(t, "admin", `#orgs form button[aria-label="Switch to this organization: `+consoleOrg+`"]`)
	if p.Status != http.StatusOK || !strings.Contains(p.Flash, "You switched to "+consoleOrg) ||
		!strings.Contains(p.Text, "Signed in to "+consoleOrg) || !regexp.MustCompile(`/account$`).MatchString(pathOf(p.URL)) {
		t.Fatalf("after switching: %d %s flash %q text %q", p.Status, p.URL, p.Flash, cutString(p.Text, 600))
	}
	// The admin console follows the session: Acme's tabs, no sign-in.
	p = d.goto_(t, "admin", w.issuer+"/admin")
	if p.Status != http.StatusOK || !strings.Contains(p.Text, consoleOrg) {
		t.Fatalf("/admin after switching: %d %s %q", p.Status, p.URL, cutString(p.Text, 300))
	}

	p = d.goto_(t, "admin", w.issuer+"/account")
	p = d.click(t, "admin", `#orgs form button[aria-label="Switch to this organization: `+beta+`"]`)
	if !strings.Contains(p.Flash, "You switched to "+beta) || !strings.Contains(p.Text, "Signed in to "+beta) {
		t.Fatalf("switching back: flash %q text %q", p.Flash, cutString(p.Text, 600))
	}

	var rep struct {
		PagesChecked int `json:"pages_checked"`
	}
	d.call(t, "", "report", nil, 0, &rep)
	if rep.PagesChecked < 6 {
		t.Errorf("axe-core checked %d pages, want every page shown (6 or more)", rep.PagesChecked)
	}
}
