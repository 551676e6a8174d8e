//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestConsole proves the admin console end to end in a real browser
// (Debian's Chromium, headless, under npm playwright-core through
// browser-console.mjs), from a fresh `ssobroker serve` on its embedded SQLite
// with nothing configured but its address, issuer, a loopback SMTP server
// (npm smtp-server, mail parsed by npm mailparser) and private IdPs allowed:
//
//   - the operator's `admin bootstrap` prints a one-time sign-in link, the
//     browser confirms it and lands in the console; the link works once;
//   - every action of the console is done through its pages (fields filled,
//     buttons clicked, forms submitted), and its effect read back from the
//     pages — and, for the service account's key, from the token endpoint,
//     the token verified by npm jose;
//   - an invitation's mail arrives over SMTP, its link is followed, and the
//     invitee signs in through an upstream OIDC IdP (npm oidc-provider) and
//     becomes a member; a join request is made by a real sign-in under the
//     approval mode;
//   - every page of the broker the browser shows is checked by npm axe-core
//     (no serious or critical violation), and no page logs a console error
//     or breaks its Content-Security-Policy;
//   - one task is done with the keyboard alone.
//
// Chromium logs "Failed to load resource" for every 4xx document; that line
// is allowed only for the steps whose refusal the test expects (the only
// workspace, the sole admin's own role, a used or expired link, a
// non-member added to a workspace).
//
// Screenshots of every tab go to the test's temporary directory; with
// SSOBROKER_UPDATE_SCREENSHOTS=1 the main ones are copied to
// docs/screenshots/console-*.png.
func TestConsole(t *testing.T) {
	peers.RequireChromium(t)
	peers.RequireNode(t, "playwright-core", "axe-core", "smtp-server", "mailparser", "oidc-provider", "jose")
	w := startConsoleWorld(t)

	w.signInWithLink(t)
	w.general(t)
	w.workspaces(t)
	w.serviceAccounts(t)
	w.connections(t)
	w.settings(t)
	w.invite(t)
	w.joinRequests(t)
	w.acceptInvitation(t)
	w.members(t)
	w.workspaceMembers(t)
	w.lastAdmin(t)
	w.readOnlyTabs(t)
	w.linkReuse(t)
	w.finish(t)
}

// Test data: the org as bootstrapped and renamed, its people, workspaces.
const (
	consoleOrg     = "Acme"
	consoleOrgNew  = "Acme Labs"
	adminEmail     = "admin@acme.test"
	inviteDomain   = "example-idp.test"
	adaEmail       = "ada@" + inviteDomain
	bobEmail       = "bob@" + inviteDomain
	graceEmail     = "grace@" + inviteDomain
	linusEmail     = "linus@" + inviteDomain
	consoleIdPID   = "ssobroker-console-e2e"
	consoleIdPPass = "console-idp-secret-4Rt"
)

// consoleWorld is one `serve`, its peers and the browser.
type consoleWorld struct {
	*cluster
	drv    *consoleDriver
	dns    *txtServer
	shots  string // screenshots of this run
	link   string // the bootstrap's one-time sign-in link
	orgID  string
	wsOrig string // the workspace the org was created with

	idp      *peers.Upstream
	conn     string // the OIDC connection's id
	saID     string
	jwksURI  string
	adminID  string
	adaID    string
	graceID  string
	research string // id of workspace research
	mailed   string // the accept link as the invitation mail gave it
}

func startConsoleWorld(t *testing.T) *consoleWorld {
	t.Helper()
	bin := brokerBinary(t)
	c := &cluster{bin: bin, logDir: t.TempDir()}
	w := &consoleWorld{cluster: c, shots: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
		}
	})
	w.drv = startConsoleDriver(t, c.logFile(t, "browser-console"))
	w.dns = startTXTServer(t)
	c.startServe(t, func(port int) {
		c.issuer = "http://127.0.0.1:" + strconv.Itoa(port)
		c.env = []string{
			"SSOBROKER_ISSUER=" + c.issuer,
			"SSOBROKER_SECRET_KEY=" + secretKey,
			"SSOBROKER_DATA_DIR=" + filepath.Join(c.logDir, "data"),
			"SSOBROKER_SMTP_URL=smtp://127.0.0.1:" + strconv.Itoa(w.drv.smtpPort),
			"SSOBROKER_MAIL_FROM=ssobroker <no-reply@ssobroker.test>",
			"SSOBROKER_ALLOW_PRIVATE_IDP=true",
			"SSOBROKER_DNS_RESOLVER=" + w.dns.addr,
			"SSOBROKER_LOG_FORMAT=text",
		}
	})
	w.drv.origin = c.issuer
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	raw, _ := json.Marshal(fetchJSON(t, c.issuer+"/.well-known/openid-configuration"))
	if err := json.Unmarshal(raw, &disc); err != nil || disc.JWKSURI == "" {
		t.Fatalf("discovery: %s", raw)
	}
	w.jwksURI = disc.JWKSURI
	return w
}

// ---- 1. The operator's one-time sign-in link ----

var signInLinkRE = regexp.MustCompile(`https?://[^"\s]+/admin/sign-in/[A-Za-z0-9._~%-]+`)

func (w *consoleWorld) signInWithLink(t *testing.T) {
	out, err := w.tryCLI("admin", "bootstrap", "--org", consoleOrg, "--email", adminEmail, "--json")
	if err != nil {
		t.Fatalf("ssobroker admin bootstrap: %v\n%s", err, out)
	}
	t.Logf("admin bootstrap printed:\n%s", out)
	w.link = signInLinkRE.FindString(out)
	if w.link == "" {
		t.Fatalf("admin bootstrap --json printed no one-time sign-in link ({issuer}/admin/sign-in/{token}):\n%s", out)
	}
	if !strings.HasPrefix(w.link, w.issuer+"/admin/sign-in/") {
		t.Fatalf("sign-in link %s is not under the issuer %s", w.link, w.issuer)
	}
	p := w.drv.goto_(t, "admin", w.link)
	if p.Status != http.StatusOK || p.H1 != "Sign in to the console" {
		t.Fatalf("the link's page: %d %q %q, want the confirmation page", p.Status, p.H1, p.Text)
	}
	w.shot(t, "admin", "signin-link")
	p = w.drv.click(t, "admin", "#redeem-link button[type=submit]")
	m := regexp.MustCompile(`^/admin/([^/]+)/general$`).FindStringSubmatch(pathOf(p.URL))
	if m == nil || p.Status != http.StatusOK || p.H1 != "General" {
		t.Fatalf("after confirming the link: %d %s %q %q; want the console's General tab (\"not valid\" for a fresh link: console.Config.SignInLinks is not wired in cmd/ssobroker/app.go?)", p.Status, p.URL, p.H1, p.Text)
	}
	w.orgID, _ = url.PathUnescape(m[1])
	t.Logf("signed in to the console of %s with the operator's link", w.orgID)
}

// ---- 2. General ----

func (w *consoleWorld) general(t *testing.T) {
	d := w.drv
	if got := d.text(t, "admin", "#org-name"); got != consoleOrg {
		t.Errorf("header names the org %q, want %q", got, consoleOrg)
	}
	w.shot(t, "admin", "general")
	d.fill(t, "admin", "#name", consoleOrgNew)
	p := d.click(t, "admin", "#org-name-form button[type=submit]")
	wantFlash(t, p, "The organization is now named "+consoleOrgNew+".")
	if got := d.value(t, "admin", "#name"); got != consoleOrgNew {
		t.Errorf("name field %q after renaming, want %q", got, consoleOrgNew)
	}
	if got := d.text(t, "admin", "#org-name"); got != consoleOrgNew {
		t.Errorf("header names the org %q after renaming, want %q", got, consoleOrgNew)
	}
}

// ---- 2. Workspaces ----

func (w *consoleWorld) workspaces(t *testing.T) {
	d := w.drv
	p := d.click(t, "admin", "#tab-workspaces")
	if p.H1 != "Workspaces" {
		t.Fatalf("Workspaces tab: %q", p.H1)
	}
	rows := w.workspaceRows(t)
	if len(rows) != 1 {
		t.Fatalf("a new org has workspaces %v, want one", rows)
	}
	w.wsOrig = rows[0]
	if !d.visible(t, "admin", "#ws-"+w.wsOrig+" .badge-default") {
		t.Errorf("workspace %s is not marked default", w.wsOrig)
	}

	for _, name := range []string{"research", "ml-platform"} {
		d.fill(t, "admin", "#ws-name", name)
		p = d.click(t, "admin", "#create-workspace button[type=submit]")
		wantFlash(t, p, "Workspace "+name+" created; you are its owner.")
	}
	if rows := w.workspaceRows(t); !sameSet(rows, []string{w.wsOrig, "research", "ml-platform"}) {
		t.Fatalf("workspaces %v after creating two", rows)
	}
	w.shot(t, "admin", "workspaces")

	// Search.
	d.fill(t, "admin", "#q", "resea")
	p = d.click(t, "admin", "form.search button[type=submit]")
	if rows := w.workspaceRows(t); !slices.Equal(rows, []string{"research"}) || !strings.Contains(p.URL, "q=resea") {
		t.Errorf("searching “resea”: %v at %s, want research only", rows, p.URL)
	}
	d.fill(t, "admin", "#q", "no-such")
	d.click(t, "admin", "form.search button[type=submit]")
	if got := d.text(t, "admin", "#no-workspaces"); !strings.Contains(got, "No workspace name contains “no-such”") {
		t.Errorf("searching for nothing: %q", got)
	}
	d.goto_(t, "admin", w.admin("workspaces"))

	// Default.
	p = d.click(t, "admin", `#ws-research button[aria-label="Make default: research"]`)
	wantFlash(t, p, "Workspace research is now the default workspace.")
	if !d.visible(t, "admin", "#ws-research .badge-default") || d.visible(t, "admin", "#ws-"+w.wsOrig+" .badge-default") {
		t.Errorf("research is not the one default workspace")
	}

	// Delete two (each asks first), then the only one left is refused.
	for _, name := range []string{"ml-platform", w.wsOrig} {
		p = d.click(t, "admin", "#ws-"+name+" button.danger")
		wantFlash(t, p, "Workspace "+name+" deleted.")
	}
	if got := d.dialogs(t, "admin"); !slices.Contains(got, "Delete workspace ml-platform and its memberships?") {
		t.Errorf("no confirmation was asked before deleting: dialogs %q", got)
	}
	if rows := w.workspaceRows(t); !slices.Equal(rows, []string{"research"}) {
		t.Fatalf("workspaces %v after deleting two, want research", rows)
	}
	p = d.click(t, "admin", `#ws-research a[href$="#delete"]`)
	if !strings.HasPrefix(p.H1, "Workspace research") {
		t.Fatalf("research's page: %q", p.H1)
	}
	w.research = pathTail(p.URL)
	d.fill(t, "admin", "#new_default", "research")
	p = d.submitRefused(t, "admin", "#delete-workspace button[type=submit]", http.StatusConflict)
	if !strings.Contains(p.FormError, `Workspace "research" is the organization's only workspace and cannot be deleted.`) {
		t.Errorf("deleting the only workspace: %d, form error %q", p.Status, p.FormError)
	}
	w.shot(t, "admin", "workspace-refused")

	// With the keyboard alone: Tab to the name field, type, Enter.
	d.goto_(t, "admin", w.admin("workspaces"))
	n := d.tabTo(t, "admin", "#ws-name")
	d.typeText(t, "admin", "data-lab")
	p = d.press(t, "admin", "Enter", true)
	wantFlash(t, p, "Workspace data-lab created; you are its owner.")
	if rows := w.workspaceRows(t); !sameSet(rows, []string{"research", "data-lab"}) {
		t.Errorf("workspaces %v after creating data-lab with the keyboard", rows)
	}
	t.Logf("keyboard alone: %d Tab presses to the workspace name field, typed, Enter", n)
}

// workspaceRows lists the workspace names the Workspaces tab shows.
func (w *consoleWorld) workspaceRows(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, id := range w.drv.attrs(t, "admin", "#workspaces tbody tr", "id") {
		names = append(names, strings.TrimPrefix(id, "ws-"))
	}
	return names
}

// ---- 2. Service accounts: a key, used at the token endpoint and the admin API ----

func (w *consoleWorld) serviceAccounts(t *testing.T) {
	d := w.drv
	p := d.click(t, "admin", "#tab-service-accounts")
	if p.H1 != "Service accounts" {
		t.Fatalf("Service accounts tab: %q", p.H1)
	}
	d.fill(t, "admin", "#sa-name", "ci-bot")
	d.selectOption(t, "admin", "#sa-role", "admin")
	d.fill(t, "admin", "#sa-workspaces", "data-lab")
	d.selectOption(t, "admin", "#sa-ws-role", "owner")
	p = d.click(t, "admin", "#create-sa button[type=submit]")
	wantFlash(t, p, "Service account ci-bot created.")
	w.saID = pathTail(p.URL)
	if !strings.HasPrefix(w.saID, "sa_") {
		t.Fatalf("after creating a service account: %s", p.URL)
	}
	p = d.click(t, "admin", "#create-key button[type=submit]")
	if p.Status != http.StatusCreated {
		t.Errorf("creating a key answered %d", p.Status)
	}
	key := d.value(t, "admin", "#api-key")
	if !strings.HasPrefix(key, "ssb_") {
		t.Fatalf("the new key field holds %q", key)
	}
	w.copyButton(t, "#created-key", key)
	w.shot(t, "admin", "service-account")

	// client_credentials with the key; jose verifies the token.
	tok := d.token(t, w.issuer+"/oauth2/token", w.jwksURI, w.issuer, w.saID, key)
	if tok.Status != http.StatusOK || !tok.Verified {
		t.Fatalf("client_credentials with the console's key: %d %s, verified %v (%s)", tok.Status, tok.Body, tok.Verified, tok.Error)
	}
	var at accessClaims
	if err := json.Unmarshal(tok.Payload, &at); err != nil {
		t.Fatal(err)
	}
	if at.Sub != w.saID || at.Org.ID != w.orgID || at.Org.Role != "admin" || at.workspaceRole("data-lab") != "owner" {
		t.Errorf("the service account's token %s: want sub %s, org %s as admin, owner of data-lab", tok.Payload, w.saID, w.orgID)
	}
	// The key is an admin's at the admin API too.
	var org directory.Organization
	w.api(w.a, key).must(t, http.StatusOK, "GET", "/api/v1/orgs/"+w.orgID, nil, &org)
	if org.Name != consoleOrgNew {
		t.Errorf("the admin API with the console's key names the org %q", org.Name)
	}

	// Revoke the key: the token endpoint refuses it from then on.
	p = d.goto_(t, "admin", w.admin("service-accounts", w.saID))
	if d.visible(t, "admin", "#api-key") {
		t.Errorf("the key is shown again on a later visit")
	}
	p = d.click(t, "admin", "#keys button.danger")
	wantFlash(t, p, "revoked: it no longer works.")
	if got := d.texts(t, "admin", "#keys tbody td:nth-child(4)"); len(got) != 1 || !strings.HasPrefix(got[0], "revoked") {
		t.Errorf("key state %q after revoking", got)
	}
	if tok := d.token(t, w.issuer+"/oauth2/token", w.jwksURI, w.issuer, w.saID, key); tok.Status != http.StatusUnauthorized || !strings.Contains(tok.Body, "invalid_client") {
		t.Errorf("client_credentials with the revoked key: %d %s, want 401 invalid_client", tok.Status, tok.Body)
	}

	// A second account, deleted.
	d.click(t, "admin", "#tab-service-accounts")
	d.fill(t, "admin", "#sa-name", "tmp-bot")
	p = d.click(t, "admin", "#create-sa button[type=submit]")
	wantFlash(t, p, "Service account tmp-bot created.")
	p = d.click(t, "admin", "#delete-sa button[type=submit]")
	wantFlash(t, p, "Service account tmp-bot deleted; its keys no longer work.")
	if rows := d.attrs(t, "admin", "#service-accounts tbody tr", "id"); !slices.Contains(rows, "sa-"+w.saID) || slices.ContainsFunc(rows, func(id string) bool {
		return strings.Contains(d.text(t, "admin", "#"+id+" th"), "tmp-bot")
	}) {
		t.Errorf("service accounts %v, want ci-bot and no tmp-bot", rows)
	}
	w.shot(t, "admin", "service-accounts")
}

// idpAccounts are the upstream IdP's people, all with verified emails.
func (w *consoleWorld) idpAccounts(t *testing.T) string {
	t.Helper()
	accounts := map[string]map[string]any{}
	for _, a := range []struct{ email, name string }{{adminEmail, "Avery Admin"}, {adaEmail, "Ada Lovelace"}, {graceEmail, "Grace Hopper"}, {linusEmail, "Linus Pauling"}} {
		accounts[a.email] = map[string]any{"email": a.email, "email_verified": true, "name": a.name}
	}
	file := filepath.Join(w.logDir, "idp-accounts.json")
	b, _ := json.Marshal(accounts)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// startIdP starts an npm oidc-provider whose one client has callback as
// redirect URI and returns its issuer. A connection's callback URL holds
// the connection's id, and saving a connection fetches its IdP's discovery
// document: so a first IdP (any callback) lets the connection be saved,
// and a second one, started with the callback the broker shows, replaces
// it in the connection's settings — as an IT admin registers the redirect
// URI after creating the connection.
func (w *consoleWorld) startIdP(t *testing.T, name, callback string) string {
	t.Helper()
	s, line := peers.StartScript(t, "upstream-idp.mjs", peers.ScriptOptions{Args: []string{"0", callback,
		"--client-id", consoleIdPID, "--client-secret", consoleIdPPass, "--accounts", w.idpAccounts(t)}, Log: w.logFile(t, name)})
	var ready struct {
		Issuer string `json:"issuer"`
	}
	if json.Unmarshal(line, &ready) != nil || ready.Issuer == "" {
		t.Fatalf("oidc-provider did not start: %s\n%s", line, s.Log())
	}
	return ready.Issuer
}

// connections gives the org, through the console's Connections and Domains
// tabs, an OIDC connection to an upstream oidc-provider and a verified
// domain for the invitees' emails.
func (w *consoleWorld) connections(t *testing.T) {
	d := w.drv
	first := w.startIdP(t, "upstream-idp-first", w.issuer+"/sso/oidc/not-yet/callback")
	p := d.click(t, "admin", "#tab-connections")
	if p.H1 != "Connections" {
		t.Fatalf("Connections tab: %q", p.H1)
	}
	d.fill(t, "admin", "#oidc-name", "Example IdP")
	d.fill(t, "admin", "#oidc-issuer", first)
	d.fill(t, "admin", "#oidc-client", consoleIdPID)
	d.fill(t, "admin", "#oidc-secret", consoleIdPPass)
	d.fill(t, "admin", "#oidc-scopes", "openid email profile")
	p = d.click(t, "admin", "#add-oidc button[type=submit]")
	wantFlash(t, p, "Connection Example IdP created.")
	w.conn = pathTail(p.URL)
	callback := d.value(t, "admin", "#v-callback")
	if callback != w.issuer+"/sso/oidc/"+w.conn+"/callback" {
		t.Fatalf("the connection page gives callback %q (connection %s)", callback, w.conn)
	}
	state := d.text(t, "admin", "#conn-state")
	t.Logf("a new connection is %s", state)
	second := w.startIdP(t, "upstream-idp", callback)
	d.fill(t, "admin", "#set-issuer", second)
	p = d.click(t, "admin", "#settings button[type=submit]")
	wantFlash(t, p, "Connection Example IdP: saved.")
	if got := d.value(t, "admin", "#set-issuer"); got != second {
		t.Errorf("issuer after saving the settings: %q, want %s", got, second)
	}
	// Disable (when it is enabled) and enable.
	for _, want := range []string{"disabled", "enabled"} {
		if state == want {
			continue
		}
		p = d.click(t, "admin", "#toggle button[type=submit]")
		wantFlash(t, p, "Connection Example IdP: "+want+".")
		if state = d.text(t, "admin", "#conn-state"); state != want {
			t.Errorf("connection state %q after the toggle, want %s", state, want)
		}
	}
	w.shot(t, "admin", "connection")

	// Domains: add two, verify one through DNS, remove the other.
	p = d.click(t, "admin", "#tab-domains")
	if p.H1 != "Domains" {
		t.Fatalf("Domains tab: %q", p.H1)
	}
	for _, dom := range []string{inviteDomain, "spare.test"} {
		d.fill(t, "admin", "#domain-name", dom)
		p = d.click(t, "admin", "#add-domain button[type=submit]")
		wantFlash(t, p, "Domain "+dom+" added.")
	}
	art := "#domain-" + strings.ReplaceAll(inviteDomain, ".", `\.`)
	recName, recValue := d.value(t, "admin", art+" input[id^=rec-name-]"), d.value(t, "admin", art+" input[id^=rec-value-]")
	if !strings.HasSuffix(recName, "."+inviteDomain) || !strings.HasPrefix(recValue, "ssobroker-verify=") {
		t.Fatalf("TXT record to publish: %q = %q", recName, recValue)
	}
	w.dns.set(recName, recValue)
	// serve asks the test's DNS server (SSOBROKER_DNS_RESOLVER).
	p = d.click(t, "admin", `button[aria-label="Verify `+inviteDomain+`"]`)
	wantFlash(t, p, "Domain "+inviteDomain+" is verified")
	if got := d.text(t, "admin", art+" h3 .badge"); !strings.HasPrefix(got, "verified") {
		t.Errorf("%s is %q on the Domains tab", inviteDomain, got)
	}
	p = d.click(t, "admin", `button[aria-label="Remove spare.test"]`)
	wantFlash(t, p, "Domain spare.test removed.")
	w.shot(t, "admin", "domains")
}

// ---- 2. Organization settings ----

func (w *consoleWorld) settings(t *testing.T) {
	d := w.drv
	p := d.click(t, "admin", "#tab-settings")
	if p.H1 != "Organization settings" {
		t.Fatalf("Settings tab: %q", p.H1)
	}
	if d.checked(t, "admin", "#only_admins_can_invite") {
		t.Errorf("only_admins_can_invite is on in a new org")
	}
	d.check(t, "admin", "#only_admins_can_invite", true)
	d.selectOption(t, "admin", "#jit_mode", "approval")
	d.selectOption(t, "admin", "#default_org_role", "opik_member")
	d.fill(t, "admin", "#default_workspace", "data-lab")
	p = d.click(t, "admin", "#settings-form button[type=submit]")
	wantFlash(t, p, "Organization settings saved.")
	if !d.checked(t, "admin", "#only_admins_can_invite") || d.value(t, "admin", "#jit_mode") != "approval" ||
		d.value(t, "admin", "#default_org_role") != "opik_member" || d.value(t, "admin", "#default_workspace") != "data-lab" {
		t.Errorf("settings after saving: only_admins %v, jit %q, role %q, default workspace %q",
			d.checked(t, "admin", "#only_admins_can_invite"), d.value(t, "admin", "#jit_mode"),
			d.value(t, "admin", "#default_org_role"), d.value(t, "admin", "#default_workspace"))
	}
	w.shot(t, "admin", "settings")
	d.goto_(t, "admin", w.admin("workspaces"))
	if !d.visible(t, "admin", "#ws-data-lab .badge-default") {
		t.Errorf("data-lab is not the default workspace after the settings changed it")
	}
	// And back, so that the toggle is seen both ways.
	d.goto_(t, "admin", w.admin("settings"))
	d.check(t, "admin", "#only_admins_can_invite", false)
	p = d.click(t, "admin", "#settings-form button[type=submit]")
	wantFlash(t, p, "Organization settings saved.")
	if d.checked(t, "admin", "#only_admins_can_invite") || d.value(t, "admin", "#jit_mode") != "approval" {
		t.Errorf("settings after turning only_admins_can_invite off: %v, jit %q", d.checked(t, "admin", "#only_admins_can_invite"), d.value(t, "admin", "#jit_mode"))
	}
}

// ---- 2+3. Users: invitations, their mail ----

var acceptURLRE = regexp.MustCompile(`https?://[^\s"<>]+/invite/[A-Za-z0-9_-]+`)

func (w *consoleWorld) invite(t *testing.T) {
	d := w.drv
	p := d.click(t, "admin", "#tab-users")
	if p.H1 != "Users" {
		t.Fatalf("Users tab: %q", p.H1)
	}
	if got := d.value(t, "admin", "#invite-role"); got != "opik_member" {
		t.Errorf("the invite form offers role %q, want the default role opik_member", got)
	}
	p = w.inviteForm(t, adaEmail, "platform_member", "research")
	if !strings.Contains(p.Text, "It was mailed to them.") {
		t.Errorf("after inviting %s the page says %q; want “It was mailed to them.” (SSOBROKER_SMTP_URL is set: the console's mailer, CONTRACTS C4, is not wired?)",
			adaEmail, cutString(d.text(t, "admin", "#created-invitation"), 300))
	}
	accept := d.value(t, "admin", "#accept-url")
	if !strings.HasPrefix(accept, w.issuer+"/invite/") {
		t.Fatalf("accept link %q", accept)
	}
	w.copyButton(t, "#created-invitation", accept)
	w.shot(t, "admin", "users-invited")

	// The invitee follows the link of the mail as mailparser read it; while
	// no mail comes (the test has failed), the link the page showed.
	w.mailed = accept
	if mail, ok := w.waitMail(t, adaEmail, 1); ok {
		t.Logf("mail to %s: %q from %q, %s", adaEmail, mail.Subject, mail.From, mail.ContentType)
		w.mailed = acceptURLRE.FindString(mail.Text)
		if w.mailed != accept {
			t.Errorf("the mail's text links %q, want the accept link %s\nsubject %q\n%s", w.mailed, accept, mail.Subject, mail.Text)
		}
		if mail.HTML != "" {
			if link := acceptURLRE.FindString(mail.HTML); link != accept {
				t.Errorf("the mail's HTML links %q, want %s", link, accept)
			}
		}
		if mail.Subject == "" || !strings.Contains(mail.From, "no-reply@ssobroker.test") || !strings.Contains(mail.To, adaEmail) {
			t.Errorf("mail: subject %q, from %q, to %q", mail.Subject, mail.From, mail.To)
		}
	}

	// A second invitation, revoked.
	w.inviteForm(t, bobEmail, "view_only_platform_member", "")
	p = d.click(t, "admin", `button[aria-label="Revoke the invitation for `+bobEmail+`"]`)
	wantFlash(t, p, "Invitation for "+bobEmail+" revoked.")
	if got := d.text(t, "admin", `#invitations tr:has(th:text-is("`+bobEmail+`")) td:nth-child(3)`); got != "revoked" {
		t.Errorf("bob's invitation is %q after revoking", got)
	}
	if d.visible(t, "admin", `button[aria-label="Resend the invitation for `+bobEmail+`"]`) {
		t.Errorf("a revoked invitation can still be resent")
	}

	// Resend ada's.
	p = d.click(t, "admin", `button[aria-label="Resend the invitation for `+adaEmail+`"]`)
	wantFlash(t, p, "Invitation for "+adaEmail+" sent again.")
	if again, ok := w.waitMail(t, adaEmail, 2); ok {
		if link := acceptURLRE.FindString(again.Text); link != accept {
			t.Errorf("the resent mail links %q, want %s", link, accept)
		}
	}
}

// inviteForm fills and sends the invitation form.
func (w *consoleWorld) inviteForm(t *testing.T, email, role, workspaces string) pageState {
	t.Helper()
	d := w.drv
	d.fill(t, "admin", "#invite-email", email)
	d.selectOption(t, "admin", "#invite-role", role)
	d.fill(t, "admin", "#invite-workspaces", workspaces)
	d.selectOption(t, "admin", "#invite-ws-role", "member")
	p := d.click(t, "admin", "#invite-form button[type=submit]")
	if p.Status != http.StatusCreated || p.Flash != "Done: Invitation for "+email+" created." {
		t.Fatalf("inviting %s: %d, flash %q, form error %q", email, p.Status, p.Flash, p.FormError)
	}
	return p
}

// waitMail waits until n mails to rcpt have arrived and returns the n-th;
// it fails the test when they do not come within 15 s.
func (w *consoleWorld) waitMail(t *testing.T, rcpt string, n int) (mailMessage, bool) {
	t.Helper()
	var got []mailMessage
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = got[:0]
		for _, m := range w.drv.mails(t) {
			if slices.Contains(m.EnvelopeTo, rcpt) {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got[n-1], true
		}
		if time.Now().After(deadline) {
			t.Errorf("%d mails to %s reached the SMTP server within 15 s, want %d (is the console's mailer wired to SSOBROKER_SMTP_URL? CONTRACTS C4)", len(got), rcpt, n)
			return mailMessage{}, false
		}
	}
}

// ---- 2. Join requests, made by signing in under jit_mode=approval ----

func (w *consoleWorld) joinRequests(t *testing.T) {
	d := w.drv
	for _, email := range []string{graceEmail, linusEmail} {
		ctx := strings.SplitN(email, "@", 2)[0]
		p := d.goto_(t, ctx, w.issuer+"/login/"+url.PathEscape(w.orgID)+"?"+url.Values{"login_hint": {email}}.Encode())
		if p.H1 != "Waiting for approval" || !strings.HasPrefix(p.URL, w.issuer+"/") {
			t.Fatalf("%s signing in under approval mode ended at %d %s: %q %q", email, p.Status, p.URL, p.H1, cutString(p.Text, 300))
		}
		d.close(t, ctx)
	}
	d.goto_(t, "admin", w.admin("users"))
	if got := d.texts(t, "admin", "#join-requests tbody th"); !sameSet(got, []string{graceEmail, linusEmail}) {
		t.Fatalf("join requests %v", got)
	}
	p := d.click(t, "admin", `button[aria-label="Approve the request of `+graceEmail+`"]`)
	wantFlash(t, p, "Join request approved: "+graceEmail+" is now a member (opik_member).")
	p = d.click(t, "admin", `button[aria-label="Deny the request of `+linusEmail+`"]`)
	wantFlash(t, p, "Join request denied.")
	states := map[string]string{}
	for _, e := range []string{graceEmail, linusEmail} {
		states[e] = d.text(t, "admin", `#join-requests tr:has(th:text-is("`+e+`")) td:nth-child(2)`)
	}
	if states[graceEmail] != "approved" || states[linusEmail] != "denied" {
		t.Errorf("join requests after approving and denying: %v", states)
	}
	w.graceID = w.memberID(t, graceEmail)
	if w.graceID == "" {
		t.Fatalf("grace is not listed as a member after approval")
	}
	w.shot(t, "admin", "users")
}

// memberID finds a member's id on the Users tab by email.
func (w *consoleWorld) memberID(t *testing.T, email string) string {
	t.Helper()
	ids := w.drv.attrs(t, "admin", `#members tbody tr:has(td:text-is("`+email+`"))`, "id")
	if len(ids) != 1 {
		return ""
	}
	return strings.TrimPrefix(ids[0], "member-")
}

// ---- 3. The invitee: the mail's link, a sign-in at the upstream IdP ----

func (w *consoleWorld) acceptInvitation(t *testing.T) {
	d := w.drv
	p := d.goto_(t, "ada", w.mailed)
	if p.Status == http.StatusOK && p.H1 == "Invitation to "+consoleOrgNew {
		if got := d.text(t, "ada", "#invitation-text"); !strings.Contains(got, "invited you to "+consoleOrgNew+" as Platform member") {
			t.Errorf("invitation text %q", got)
		}
		w.shot(t, "ada", "invitation")
		p = d.click(t, "ada", "#accept")
	} else {
		// The page's button leads to the org's sign-in with the invitee's
		// email; go there directly, the test having failed.
		t.Errorf("the invitation's page: %d %q %q (the console's invitation lookup, CONTRACTS C4, is not wired?)", p.Status, p.H1, cutString(p.Text, 300))
		p = d.goto_(t, "ada", w.issuer+"/login/"+url.PathEscape(w.orgID)+"?"+url.Values{"login_hint": {adaEmail}}.Encode())
	}
	t.Logf("after signing in at the IdP the invitee is at %d %s (%q)", p.Status, p.URL, p.H1)
	p = d.goto_(t, "ada", w.issuer+"/account")
	if p.H1 != "Your account" || d.text(t, "ada", "#my-email") != adaEmail {
		t.Fatalf("the invitee's account page: %d %s %q %q", p.Status, p.URL, p.H1, cutString(p.Text, 300))
	}
	orgs := d.texts(t, "ada", "#orgs tbody tr")
	if len(orgs) != 1 || !strings.Contains(orgs[0], consoleOrgNew) || !strings.Contains(orgs[0], "Platform member") {
		t.Errorf("the invitee's orgs: %q", orgs)
	}
	if ws := d.texts(t, "ada", "#my-workspaces tbody th"); !slices.ContainsFunc(ws, func(s string) bool { return strings.HasPrefix(s, "research") }) {
		t.Errorf("the invitee's workspaces %q, want research (from the invitation)", ws)
	}
	w.shot(t, "ada", "account")
}

// ---- 2. Members: role, sign out everywhere, remove ----

func (w *consoleWorld) members(t *testing.T) {
	d := w.drv
	d.goto_(t, "admin", w.admin("users"))
	w.adaID = w.memberID(t, adaEmail)
	if w.adaID == "" {
		t.Fatalf("the admin does not see %s as a member", adaEmail)
	}
	if got := d.text(t, "admin", "#member-"+w.adaID+" td:nth-child(3)"); got != "Platform member" {
		t.Errorf("ada's role on the Users tab: %q", got)
	}
	if got := d.texts(t, "admin", `#invitations tr:has(th:text-is("`+adaEmail+`")) td:nth-child(3)`); !slices.Equal(got, []string{"accepted"}) {
		t.Errorf("ada's invitation is %q after she signed in, want accepted", got)
	}
	p := d.click(t, "admin", `a[aria-label="Manage Ada Lovelace"]`)
	if p.H1 != "Ada Lovelace" {
		t.Fatalf("ada's page: %q", p.H1)
	}
	d.selectOption(t, "admin", "#role", "opik_member")
	p = d.click(t, "admin", "#role-form button[type=submit]")
	wantFlash(t, p, adaEmail+" is now opik_member.")
	if got := d.text(t, "admin", "#member-role"); got != "Opik member" {
		t.Errorf("ada's role after the change: %q", got)
	}
	if n := len(d.texts(t, "admin", "#sessions tbody tr")); n != 1 {
		t.Errorf("ada has %d active sessions listed, want 1", n)
	}
	w.shot(t, "admin", "member")
	p = d.click(t, "admin", "#signout-form button[type=submit]")
	wantFlash(t, p, adaEmail+" was signed out everywhere")
	if d.visible(t, "admin", "#sessions") {
		t.Errorf("ada's sessions are still listed after signing her out")
	}
	p = d.goto_(t, "ada", w.issuer+"/account")
	if pathOf(p.URL) != "/login" {
		t.Errorf("ada's browser after being signed out everywhere: %d %s %q, want the sign-in page", p.Status, p.URL, p.H1)
	}

	// Remove grace.
	d.goto_(t, "admin", w.admin("users", w.graceID))
	p = d.click(t, "admin", "#remove-form button[type=submit]")
	wantFlash(t, p, graceEmail+" was removed from the organization and signed out.")
	if w.memberID(t, graceEmail) != "" {
		t.Errorf("grace is still listed after removal")
	}
}

// ---- 2. A workspace's members ----

func (w *consoleWorld) workspaceMembers(t *testing.T) {
	d := w.drv
	d.goto_(t, "admin", w.admin("workspaces"))
	const dlg = "#panel-dialog"

	// With the keyboard alone: Tab to "Manage users", Enter opens the
	// dialog with the focus on its search; a search for someone outside the
	// org finds nobody; Escape closes it and gives the focus back.
	n := d.tabTo(t, "admin", "#manage-research")
	d.press(t, "admin", "Enter", false)
	d.waitFor(t, "admin", dlg+" #workspace-members", "")
	if got := d.text(t, "admin", "#panel-dialog-title"); got != "Users of workspace research" {
		t.Errorf("the dialog is titled %q", got)
	}
	if got := d.focused(t, "admin"); got != "member-q" {
		t.Errorf("opening the dialog left the focus on %q, want its search field member-q", got)
	}
	d.typeText(t, "admin", "grace")
	d.press(t, "admin", "Enter", false)
	d.waitFor(t, "admin", dlg+" #no-candidates", "No member of the organization outside research")
	d.press(t, "admin", "Escape", false)
	d.waitClosed(t, "admin", dlg)
	if got := d.focused(t, "admin"); got != "manage-research" {
		t.Errorf("closing the dialog left the focus on %q, want the link that opened it", got)
	}
	t.Logf("keyboard alone: %d Tab presses to Manage users, Enter, typed a search, Enter, Escape", n)

	// With the mouse: open the dialog; ada (invited into research) is listed.
	d.clickNoNav(t, "admin", `a[aria-label="Manage users of research"]`)
	row := dlg + " #member-" + w.adaID
	d.waitFor(t, "admin", row, "Ada Lovelace")
	d.axe(t, "admin")
	// Remove her (the removal asks first), search her by name, add her back
	// as member, give her can_invite, then make her owner: every answer
	// stays in the dialog.
	d.clickNoNav(t, "admin", row+" button.danger")
	d.waitFor(t, "admin", dlg+" #panel-flash", "Removed from workspace research.")
	if got := d.dialogs(t, "admin"); !slices.Contains(got, "Remove Ada Lovelace from workspace research?") {
		t.Errorf("no confirmation before removing a workspace member: %q", got)
	}
	if d.visible(t, "admin", row) {
		t.Errorf("ada still listed after removal")
	}
	d.fill(t, "admin", dlg+" #member-q", "lovelace")
	d.clickNoNav(t, "admin", dlg+" #member-search button[type=submit]")
	cand := dlg + " #candidate-" + w.adaID
	d.waitFor(t, "admin", cand, "Ada Lovelace")
	w.shot(t, "admin", "workspace-dialog")
	d.axe(t, "admin")
	d.selectOption(t, "admin", "#add-role-"+w.adaID, "member")
	d.clickNoNav(t, "admin", cand+" button[type=submit]")
	d.waitFor(t, "admin", dlg+" #panel-flash", "Ada Lovelace added to workspace research as member.")
	d.waitFor(t, "admin", row, "Ada Lovelace")
	membership := func() string {
		return fmt.Sprintf("%s can_invite=%v can_make_public=%v",
			d.value(t, "admin", "#role-"+w.adaID), d.checked(t, "admin", "#ci-"+w.adaID), d.checked(t, "admin", "#cp-"+w.adaID))
	}
	d.check(t, "admin", "#ci-"+w.adaID, true)
	d.clickNoNav(t, "admin", "#update-"+w.adaID+" button[type=submit]")
	d.waitFor(t, "admin", dlg+" #panel-flash", "Ada Lovelace updated in workspace research as member.")
	if got := membership(); got != "member can_invite=true can_make_public=false" {
		t.Errorf("ada's membership after setting can_invite: %s", got)
	}
	d.selectOption(t, "admin", "#role-"+w.adaID, "owner")
	d.clickNoNav(t, "admin", "#update-"+w.adaID+" button[type=submit]")
	d.waitFor(t, "admin", dlg+" #panel-flash", "Ada Lovelace updated in workspace research as owner.")
	if got := membership(); got != "owner can_invite=true can_make_public=true" {
		t.Errorf("ada's membership after making her owner: %s (owners hold both flags)", got)
	}
	d.axe(t, "admin")
	// Closing after changes reloads the list behind the dialog.
	d.clickNoNav(t, "admin", dlg+" .dialog-close")
	d.waitClosed(t, "admin", dlg)
	p := d.state(t, "admin")
	if !strings.HasSuffix(pathOf(p.URL), "/workspaces") {
		t.Errorf("after closing the dialog: %s", p.URL)
	}

	// Without the script the same panel is the workspace's own page.
	p = d.goto_(t, "admin", w.admin("workspaces", w.research)+"?q=lovelace")
	if !strings.HasPrefix(p.H1, "Workspace research") || !d.visible(t, "admin", "#member-"+w.adaID) || d.visible(t, "admin", "#candidate-"+w.adaID) {
		t.Errorf("research's page: %q; ada listed as member %v, offered again %v", p.H1,
			d.visible(t, "admin", "#member-"+w.adaID), d.visible(t, "admin", "#candidate-"+w.adaID))
	}
	w.shot(t, "admin", "workspace")
}

// ---- 3. The sole admin cannot demote themself ----

func (w *consoleWorld) lastAdmin(t *testing.T) {
	d := w.drv
	d.goto_(t, "admin", w.admin("users"))
	w.adminID = w.memberID(t, adminEmail)
	if w.adminID == "" {
		t.Fatalf("the admin is not listed among the members")
	}
	if got := d.text(t, "admin", "#member-"+w.adminID+" th .badge-member"); got != "You" {
		t.Errorf("the admin's row is not marked You: %q", got)
	}
	d.goto_(t, "admin", w.admin("users", w.adminID))
	d.selectOption(t, "admin", "#role", "platform_member")
	p := d.submitRefused(t, "admin", "#role-form button[type=submit]", http.StatusConflict)
	if !strings.Contains(p.FormError, "You cannot change your own organization role; ask another admin.") {
		t.Errorf("demoting the sole admin: %d, form error %q", p.Status, p.FormError)
	}
	if got := d.value(t, "admin", "#role"); got != "platform_member" {
		t.Errorf("the refused form lost what was chosen: %q", got)
	}
	w.shot(t, "admin", "last-admin-refused")
	d.goto_(t, "admin", w.admin("users", w.adminID))
	if got := d.text(t, "admin", "#member-role"); got != "Admin" {
		t.Errorf("the admin's role after the refusal: %q", got)
	}
}

// ---- 2. Billing, Audit, Connections, Domains, the account page ----

func (w *consoleWorld) readOnlyTabs(t *testing.T) {
	d := w.drv
	p := d.click(t, "admin", "#tab-billing")
	if p.H1 != "Billing" || d.text(t, "admin", "#billing-admins") != "1" || d.text(t, "admin", "#billing-members") != "2" {
		t.Errorf("Billing: %q, admins %q, members %q (want 1 admin, 2 people)", p.H1, d.text(t, "admin", "#billing-admins"), d.text(t, "admin", "#billing-members"))
	}
	w.shot(t, "admin", "billing")

	p = d.click(t, "admin", "#tab-audit")
	if p.H1 != "Audit log" || len(d.texts(t, "admin", "#audit tbody tr")) < 10 {
		t.Errorf("Audit: %q with %d events", p.H1, len(d.texts(t, "admin", "#audit tbody tr")))
	}
	d.fill(t, "admin", "#action", "member.role")
	p = d.click(t, "admin", "#audit-filter button[type=submit]")
	actions := d.texts(t, "admin", "#audit tbody th")
	if len(actions) == 0 || slices.ContainsFunc(actions, func(a string) bool { return a != "member.role" }) || !strings.Contains(p.URL, "action=member.role") {
		t.Errorf("audit filtered by member.role: %q at %s", actions, p.URL)
	}
	w.shot(t, "admin", "audit")

	p = d.click(t, "admin", "#tab-connections")
	if rows := d.texts(t, "admin", "#connections tbody tr"); len(rows) != 1 || !strings.Contains(rows[0], "Example IdP") || !strings.Contains(rows[0], "enabled") {
		t.Errorf("Connections: %q %q", p.H1, rows)
	}
	w.shot(t, "admin", "connections")
	p = d.click(t, "admin", "#tab-domains")
	if got := d.texts(t, "admin", "article.domain h3"); !slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, inviteDomain+" verified") }) {
		t.Errorf("Domains: %q %q", p.H1, got)
	}
	p = d.goto_(t, "admin", w.issuer+"/account")
	if p.H1 != "Your account" || d.text(t, "admin", "#my-email") != adminEmail {
		t.Errorf("the admin's account page: %q %q", p.H1, d.text(t, "admin", "#my-email"))
	}
	w.shot(t, "admin", "admin-account")
}

// ---- 4. The link works once; an expired link says so ----

func (w *consoleWorld) linkReuse(t *testing.T) {
	d := w.drv
	if w.link == "" {
		t.Errorf("no sign-in link from admin bootstrap: its second use and expiry are not proven")
		return
	}
	d.goto_(t, "again", w.link)
	p := d.submitRefused(t, "again", "#redeem-link button[type=submit]", http.StatusGone)
	if !strings.Contains(p.Text, "This sign-in link was already used") {
		t.Errorf("the link used a second time: %d %q", p.Status, p.Text)
	}
	w.shot(t, "again", "link-used")
	d.close(t, "again")

	out, err := w.tryCLI("admin", "sign-in-link", "--org", w.orgID, "--email", adminEmail, "--ttl", "1s", "--json")
	if err != nil {
		t.Errorf("ssobroker admin sign-in-link --ttl 1s: %v: %s — the expired-link page is not proven", err, cutString(out, 500))
		return
	}
	link := signInLinkRE.FindString(out)
	if link == "" {
		t.Errorf("admin sign-in-link printed no link: %s", out)
		return
	}
	d.goto_(t, "late", link)
	time.Sleep(1500 * time.Millisecond) // the link's whole life: 1 s
	p = d.submitRefused(t, "late", "#redeem-link button[type=submit]", http.StatusGone)
	if !strings.Contains(p.Text, "This sign-in link has expired") {
		t.Errorf("an expired link: %d %q", p.Status, p.Text)
	}
	d.close(t, "late")
}

// consoleScreenshots are the screenshots published in docs/screenshots as
// console-NAME.png: every tab, the workspace-users dialog, a member's and a
// service account's page, the account page and two refusals.
var consoleScreenshots = []string{"general", "workspaces", "workspace-dialog", "workspace", "users", "member",
	"settings", "service-accounts", "service-account", "billing", "audit", "connections", "domains", "account",
	"last-admin-refused", "link-used"}

// finish checks the run as a whole and publishes the screenshots.
func (w *consoleWorld) finish(t *testing.T) {
	var rep struct {
		PagesChecked int       `json:"pages_checked"`
		AxeMS        int       `json:"axe_ms"`
		AxeMinor     []problem `json:"axe_minor"`
	}
	w.drv.call(t, "", "report", nil, 0, &rep)
	if rep.PagesChecked < 30 {
		t.Errorf("axe-core checked %d pages, want every page shown (30 or more)", rep.PagesChecked)
	}
	for _, v := range rep.AxeMinor {
		t.Logf("axe-core, %s impact (not failing): %s", v.Impact, v.describe())
	}
	t.Logf("axe-core checked %d pages in %d ms; %d browser steps took %s; screenshots in %s",
		rep.PagesChecked, rep.AxeMS, w.drv.n, w.drv.busy.Round(time.Millisecond), w.shots)
	if os.Getenv("SSOBROKER_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	for _, name := range consoleScreenshots {
		publishShot(t, w.shots, name, "console-"+name)
	}
}

// publishShot copies the screenshot name this run wrote into dir to
// docs/screenshots/as.png (callers do it when SSOBROKER_UPDATE_SCREENSHOTS
// is 1).
func publishShot(t *testing.T, dir, name, as string) {
	t.Helper()
	dst := filepath.Join(filepath.Dir(peers.Dir(t)), "docs", "screenshots")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dst, as+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("copied screenshot %s to %s", name, filepath.Join(dst, as+".png"))
}

// ---- helpers ----

func (w *consoleWorld) admin(parts ...string) string {
	p := w.issuer + "/admin/" + url.PathEscape(w.orgID)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

func (w *consoleWorld) shot(t *testing.T, ctx, name string) {
	t.Helper()
	w.drv.call(t, ctx, "screenshot", map[string]any{"path": filepath.Join(w.shots, name+".png")}, 0, nil)
}

// copyButton checks that the value shown once has a working copy button.
func (w *consoleWorld) copyButton(t *testing.T, scope, want string) {
	t.Helper()
	d := w.drv
	btn := scope + " button.copy"
	if !d.visible(t, "admin", btn) {
		t.Errorf("no visible copy button in %s", scope)
		return
	}
	d.call(t, "admin", "grant_clipboard", nil, 0, nil)
	d.clickNoNav(t, "admin", btn)
	if got := d.text(t, "admin", btn); got != "Copied" {
		t.Errorf("copy button says %q after a click", got)
	}
	var clip string
	d.call(t, "admin", "clipboard", nil, 0, &clip)
	if clip != want {
		t.Errorf("clipboard %q after the copy button, want %q", clip, want)
	}
}

// tryCLI runs `ssobroker ARGS…` against the data dir and returns its output.
func (w *consoleWorld) tryCLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.baseEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func wantFlash(t *testing.T, p pageState, want string) {
	t.Helper()
	if p.Status != http.StatusOK && p.Status != http.StatusCreated || !strings.HasPrefix(p.Flash, "Done:") || !strings.Contains(p.Flash, want) {
		t.Errorf("at %d %s: flash %q, want “Done: …%s…” (form error %q)", p.Status, p.URL, p.Flash, want, p.FormError)
	}
}

func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

func pathTail(raw string) string {
	p := pathOf(raw)
	return p[strings.LastIndex(p, "/")+1:]
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ---- the browser driver (browser-console.mjs) ----

type consoleDriver struct {
	s        *peers.Script
	n        int
	busy     time.Duration // waiting for the browser's answers
	origin   string
	smtpPort int
}

// pageState is what the page shows after a step.
type pageState struct {
	URL       string `json:"url"`
	Status    int    `json:"status"`
	Title     string `json:"title"`
	H1        string `json:"h1"`
	Flash     string `json:"flash"`
	FormError string `json:"form_error"`
	Text      string `json:"text"`
}

// problem is a console message, script error, CSP violation or axe-core
// violation the browser saw.
type problem struct {
	Kind      string `json:"kind"`
	Ctx       string `json:"ctx"`
	Type      string `json:"type"`
	Text      string `json:"text"`
	URL       string `json:"url"`
	Document  string `json:"document"`
	Directive string `json:"directive"`
	Blocked   string `json:"blocked"`
	Sample    string `json:"sample"`
	ID        string `json:"id"`
	Impact    string `json:"impact"`
	Help      string `json:"help"`
	Nodes     []struct {
		Target  string `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

func (p problem) describe() string {
	switch p.Kind {
	case "axe":
		var b strings.Builder
		fmt.Fprintf(&b, "%s (%s) on %s: %s", p.ID, p.Impact, p.URL, p.Help)
		for _, n := range p.Nodes {
			fmt.Fprintf(&b, "\n    %s: %s\n      %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", " "))
		}
		return b.String()
	case "csp":
		return fmt.Sprintf("CSP violation on %s: %s blocked %q (%q)", p.Document, p.Directive, p.Blocked, p.Sample)
	case "console":
		return fmt.Sprintf("console %s on %s: %s", p.Type, p.URL, p.Text)
	default:
		return fmt.Sprintf("%s: %s", p.Kind, p.Text)
	}
}

type mailMessage struct {
	EnvelopeTo  []string `json:"envelope_to"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Subject     string   `json:"subject"`
	Text        string   `json:"text"`
	HTML        string   `json:"html"`
	ContentType string   `json:"content_type"`
}

type tokenResult struct {
	Status   int             `json:"status"`
	Body     string          `json:"body"`
	Verified bool            `json:"verified"`
	Payload  json.RawMessage `json:"payload"`
	Error    string          `json:"error"`
}

func startConsoleDriver(t *testing.T, log interface{ Write([]byte) (int, error) }) *consoleDriver {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"executable": peers.ChromiumBinary, "timeout_ms": 30000})
	s, line := peers.StartScript(t, "browser-console.mjs", peers.ScriptOptions{Args: []string{string(in)}, Stdin: true,
		Log: log, StartTimeout: 2 * time.Minute})
	var ready struct {
		Ready    bool   `json:"ready"`
		Browser  string `json:"browser"`
		SMTPPort int    `json:"smtp_port"`
		CSPProbe bool   `json:"csp_probe"`
	}
	if err := json.Unmarshal(line, &ready); err != nil || !ready.Ready || ready.SMTPPort == 0 {
		t.Fatalf("browser-console.mjs did not start (%q): %v\n%s", line, err, s.Log())
	}
	if !ready.CSPProbe {
		t.Fatal("browser-console.mjs did not see the deliberate CSP violation of its control page: its CSP report would prove nothing")
	}
	t.Logf("Chromium %s; SMTP server on 127.0.0.1:%d", ready.Browser, ready.SMTPPort)
	return &consoleDriver{s: s, smtpPort: ready.SMTPPort}
}

// call runs one command in browser profile ctx. A 4xx answer the step
// expects (allowStatus) makes Chromium log "Failed to load resource"; that
// line is allowed for it. Every other problem on the broker's pages fails
// the test; problems on other origins' pages are logged.
func (d *consoleDriver) call(t *testing.T, ctx, op string, args map[string]any, allowStatus int, out any) pageState {
	t.Helper()
	d.n++
	cmd := map[string]any{"id": d.n, "op": op, "ctx": ctx, "origin": d.origin}
	for k, v := range args {
		cmd[k] = v
	}
	if err := d.s.Send(cmd); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	line, err := d.s.Next(90 * time.Second)
	d.busy += time.Since(started)
	if err != nil {
		t.Fatalf("browser step %s %v: %v\n%s", op, args, err, d.s.Log())
	}
	var ans struct {
		ID       int             `json:"id"`
		OK       bool            `json:"ok"`
		Error    string          `json:"error"`
		Page     *pageState      `json:"page"`
		Value    json.RawMessage `json:"value"`
		Problems []problem       `json:"problems"`
	}
	if err := json.Unmarshal([]byte(line), &ans); err != nil || ans.ID != d.n {
		t.Fatalf("browser step %s: answer %q: %v", op, cutString(line, 500), err)
	}
	for _, p := range ans.Problems {
		ours := strings.HasPrefix(p.URL, d.origin+"/") || strings.HasPrefix(p.Document, d.origin+"/") || p.Kind == "axe" || p.Kind == "script"
		switch {
		case p.Kind == "console" && allowStatus >= 400 && strings.Contains(p.Text, fmt.Sprintf("the server responded with a status of %d", allowStatus)):
			t.Logf("expected: %s", p.describe())
		case ours || p.Kind == "csp":
			t.Errorf("step %s %v [%s]: %s", op, args, p.Ctx, p.describe())
		default:
			t.Logf("on another origin's page [%s]: %s", p.Ctx, p.describe())
		}
	}
	var page pageState
	if ans.Page != nil {
		page = *ans.Page
	}
	if !ans.OK {
		t.Fatalf("browser step %s %v failed: %s\nthe page: %d %s %q\n%s", op, args, ans.Error, page.Status, page.URL, cutString(page.Text, 1500), d.s.Log())
	}
	if out != nil && len(ans.Value) > 0 {
		if err := json.Unmarshal(ans.Value, out); err != nil {
			t.Fatalf("browser step %s: value %s: %v", op, cutString(string(ans.Value), 300), err)
		}
	}
	return page
}

func (d *consoleDriver) goto_(t *testing.T, ctx, u string) pageState {
	t.Helper()
	return d.call(t, ctx, "goto", map[string]any{"url": u}, 0, nil)
}

// click clicks and waits for the page it navigates to.
func (d *consoleDriver) click(t *testing.T, ctx, sel string) pageState {
	t.Helper()
	return d.call(t, ctx, "click", map[string]any{"selector": sel}, 0, nil)
}

func (d *consoleDriver) clickNoNav(t *testing.T, ctx, sel string) {
	t.Helper()
	d.call(t, ctx, "click", map[string]any{"selector": sel, "nav": false}, 0, nil)
}

// submitRefused clicks a form's button whose answer is the refusal status.
func (d *consoleDriver) submitRefused(t *testing.T, ctx, sel string, status int) pageState {
	t.Helper()
	p := d.call(t, ctx, "click", map[string]any{"selector": sel}, status, nil)
	if p.Status != status {
		t.Errorf("submitting %s answered %d, want %d: %q", sel, p.Status, status, cutString(p.Text, 300))
	}
	return p
}

func (d *consoleDriver) fill(t *testing.T, ctx, sel, v string) {
	t.Helper()
	d.call(t, ctx, "fill", map[string]any{"selector": sel, "value": v}, 0, nil)
}

func (d *consoleDriver) selectOption(t *testing.T, ctx, sel, v string) {
	t.Helper()
	d.call(t, ctx, "select", map[string]any{"selector": sel, "value": v}, 0, nil)
}

func (d *consoleDriver) check(t *testing.T, ctx, sel string, on bool) {
	t.Helper()
	d.call(t, ctx, "check", map[string]any{"selector": sel, "checked": on}, 0, nil)
}

func (d *consoleDriver) tabTo(t *testing.T, ctx, sel string) int {
	t.Helper()
	var n int
	d.call(t, ctx, "tab_to", map[string]any{"selector": sel}, 0, &n)
	return n
}

func (d *consoleDriver) typeText(t *testing.T, ctx, s string) {
	t.Helper()
	d.call(t, ctx, "type", map[string]any{"text": s}, 0, nil)
}

func (d *consoleDriver) press(t *testing.T, ctx, key string, nav bool) pageState {
	t.Helper()
	return d.call(t, ctx, "press", map[string]any{"key": key, "nav": nav}, 0, nil)
}

// waitFor waits until sel is visible and, when text is not empty, its
// text contains text.
func (d *consoleDriver) waitFor(t *testing.T, ctx, sel, text string) {
	t.Helper()
	d.call(t, ctx, "wait_for", map[string]any{"selector": sel, "text": text}, 0, nil)
}

// waitClosed waits until the <dialog> sel is closed.
func (d *consoleDriver) waitClosed(t *testing.T, ctx, sel string) {
	t.Helper()
	d.call(t, ctx, "wait_closed", map[string]any{"selector": sel}, 0, nil)
}

// axe checks the page as it is now (a dialog opened in place).
func (d *consoleDriver) axe(t *testing.T, ctx string) {
	t.Helper()
	d.call(t, ctx, "axe", nil, 0, nil)
}

func (d *consoleDriver) focused(t *testing.T, ctx string) string {
	t.Helper()
	var s string
	d.call(t, ctx, "focused", nil, 0, &s)
	return s
}

func (d *consoleDriver) state(t *testing.T, ctx string) pageState {
	t.Helper()
	return d.call(t, ctx, "state", nil, 0, nil)
}

func (d *consoleDriver) text(t *testing.T, ctx, sel string) string {
	t.Helper()
	var s string
	d.call(t, ctx, "text", map[string]any{"selector": sel}, 0, &s)
	return s
}

func (d *consoleDriver) texts(t *testing.T, ctx, sel string) []string {
	t.Helper()
	var s []string
	d.call(t, ctx, "texts", map[string]any{"selector": sel}, 0, &s)
	return s
}

func (d *consoleDriver) attrs(t *testing.T, ctx, sel, attr string) []string {
	t.Helper()
	var s []string
	d.call(t, ctx, "attrs", map[string]any{"selector": sel, "attr": attr}, 0, &s)
	return s
}

func (d *consoleDriver) value(t *testing.T, ctx, sel string) string {
	t.Helper()
	var s string
	d.call(t, ctx, "value", map[string]any{"selector": sel}, 0, &s)
	return s
}

func (d *consoleDriver) checked(t *testing.T, ctx, sel string) bool {
	t.Helper()
	var b bool
	d.call(t, ctx, "checked", map[string]any{"selector": sel}, 0, &b)
	return b
}

func (d *consoleDriver) visible(t *testing.T, ctx, sel string) bool {
	t.Helper()
	var b bool
	d.call(t, ctx, "visible", map[string]any{"selector": sel}, 0, &b)
	return b
}

func (d *consoleDriver) dialogs(t *testing.T, ctx string) []string {
	t.Helper()
	var s []string
	d.call(t, ctx, "dialogs", nil, 0, &s)
	return s
}

func (d *consoleDriver) close(t *testing.T, ctx string) {
	t.Helper()
	d.call(t, ctx, "close", nil, 0, nil)
}

func (d *consoleDriver) mails(t *testing.T) []mailMessage {
	t.Helper()
	var m []mailMessage
	d.call(t, "", "mails", nil, 0, &m)
	return m
}

func (d *consoleDriver) token(t *testing.T, endpoint, jwks, issuer, clientID, secret string) tokenResult {
	t.Helper()
	var r tokenResult
	d.call(t, "", "token", map[string]any{"token_endpoint": endpoint, "jwks_uri": jwks, "issuer": issuer,
		"client_id": clientID, "client_secret": secret}, 0, &r)
	return r
}

// ---- a DNS server for domain verification (miekg/dns) ----

// txtServer answers TXT questions on loopback (UDP and TCP, one port) from
// the records set; anything else is NXDOMAIN.
type txtServer struct {
	addr    string
	mu      sync.Mutex
	records map[string][]string
}

func startTXTServer(t *testing.T) *txtServer {
	t.Helper()
	s := &txtServer{records: map[string][]string{}}
	h := dns.HandlerFunc(func(rw dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		s.mu.Lock()
		for _, q := range r.Question {
			if q.Qtype != dns.TypeTXT {
				continue
			}
			for _, v := range s.records[strings.ToLower(q.Name)] {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 5}, Txt: []string{v}})
			}
		}
		s.mu.Unlock()
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		_ = rw.WriteMsg(m)
	})
	var pc net.PacketConn
	var l net.Listener
	for attempt := 0; ; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		_ = pc.Close()
		if attempt == 5 {
			t.Fatalf("DNS server: no port free for both UDP and TCP: %v", err)
		}
	}
	s.addr = pc.LocalAddr().String()
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: l, Handler: h}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return s
}

func (s *txtServer) set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := strings.ToLower(dns.Fqdn(name))
	s.records[n] = append(s.records[n], value)
}
