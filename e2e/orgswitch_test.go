//go:build unix

package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestAccountOrgSwitch proves /account's org switcher
// (docs/org-switching.md) in Chromium against a fresh `ssobroker serve`:
// the admin of Acme, signed in with the operator's link, is made a member
// of a second org (through the store, the way the CLI works beside a
// running server), sees both on /account, switches the browser session to
// the other with the page's button — a POST form, no JavaScript needed —
// without signing in again, and the page then says which org the session
// is in; switching back works too. axe-core checks every page (no serious
// or critical violation) and no page logs a console error or breaks its
// Content-Security-Policy.
func TestAccountOrgSwitch(t *testing.T) {
	peers.RequireChromium(t)
	peers.RequireNode(t, "playwright-core", "axe-core", "smtp-server", "mailparser", "jose")
	w := startConsoleWorld(t)
	w.signInWithLink(t) // signed in to Acme
	d := w.drv
	p := d.goto_(t, "admin", w.issuer+"/account")
	if !strings.Contains(p.Text, "Signed in to "+consoleOrg) {
		t.Fatalf("/account: %q", cutString(p.Text, 600))
	}
	userID := d.text(t, "admin", "#me code")

	const beta = "Beta Switch"
	ctx := context.Background()
	store, err := directory.OpenSQLite(ctx, filepath.Join(w.logDir, "data", "ssobroker.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b, _, err := store.CreateOrg(ctx, "system:e2e", directory.NewOrg{Name: beta})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddMember(ctx, "system:e2e", b.ID, userID, access.RolePlatformMember); err != nil {
		t.Fatal(err)
	}

	p = d.goto_(t, "admin", w.issuer+"/account")
	rows := d.texts(t, "admin", "#orgs tbody th")
	if len(rows) != 2 {
		t.Fatalf("/account lists %d orgs (%q), want 2", len(rows), rows)
	}
	w.shot(t, "admin", "account-two-orgs")

	p = d.click(t, "admin", `#orgs form button[aria-label="Switch to this organization: `+beta+`"]`)
	if p.Status != http.StatusOK || !strings.Contains(p.Flash, "You switched to "+beta) ||
		!strings.Contains(p.Text, "Signed in to "+beta) || !regexp.MustCompile(`/account$`).MatchString(pathOf(p.URL)) {
		t.Fatalf("after switching: %d %s flash %q text %q", p.Status, p.URL, p.Flash, cutString(p.Text, 600))
	}
	// A platform member of Beta: the admin console is not theirs there.
	if p = d.call(t, "admin", "goto", map[string]any{"url": w.issuer + "/admin/" + url.PathEscape(b.ID) + "/general"}, http.StatusForbidden, nil); p.Status != http.StatusForbidden {
		t.Fatalf("Beta's admin console for a platform member: %d %q", p.Status, cutString(p.Text, 300))
	}

	d.goto_(t, "admin", w.issuer+"/account")
	p = d.click(t, "admin", `#orgs form button[aria-label="Switch to this organization: `+consoleOrg+`"]`)
	if !strings.Contains(p.Flash, "You switched to "+consoleOrg) || !strings.Contains(p.Text, "Signed in to "+consoleOrg) {
		t.Fatalf("switching back: flash %q text %q", p.Flash, cutString(p.Text, 600))
	}
	// Acme's admin console again, no sign-in.
	if p = d.goto_(t, "admin", w.admin("general")); p.Status != http.StatusOK || p.H1 != "General" {
		t.Fatalf("Acme's console after switching back: %d %s %q", p.Status, p.URL, p.H1)
	}

	var rep struct {
		PagesChecked int `json:"pages_checked"`
	}
	d.call(t, "", "report", nil, 0, &rep)
	if rep.PagesChecked < 6 {
		t.Errorf("axe-core checked %d pages, want every page shown (6 or more)", rep.PagesChecked)
	}
	if os.Getenv("SSOBROKER_UPDATE_SCREENSHOTS") == "1" {
		publishShot(t, w.shots, "account-two-orgs", "account-org-switch")
	}
}
