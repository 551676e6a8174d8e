package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/e2e/peers"
)

// rpOrigin is the relying party's origin. Nothing listens there: the
// browser stops at the redirect to it and hands the URL to openid-client,
// as a browser would hand it to the application.
const rpOrigin = "http://127.0.0.1:8765"

const (
	upstreamClientID     = "ssobroker-e2e"
	upstreamClientSecret = "corp-idp-secret-9Qx"
	scope                = "openid profile email offline_access"
	// testActor is the audit-log actor of a change a test makes beside the
	// product's surfaces (console_test.go's markVerified fallback).
	testActor = "system:e2e-test"
)

// world is one deployment under test: two replicas, the corporate IdP, the
// orgs and clients configured through the CLI and the admin API, and the
// relying party.
type world struct {
	*cluster
	rp *rpDriver

	corp, mix org
	// corpIdP is the corporate IdP; mixIdP is a second oidc-provider (another
	// issuer) behind mixFront, a front whose discovery claims to be the
	// issuer it serves under.
	corpIdP, mixIdP *peers.Upstream
	mixFront        string

	app, spa                 registeredClient
	redirectURI, logoutURI   string
	jwksA, jwksB, discoveryB string
}

// org is an organization as the test configured it.
type org struct {
	ID, Name, Domain string
	DefaultWorkspace string
	Conn             string // the OIDC connection's id
	admin            string // API key of an admin service account
	a, b             *apiClient
}

type registeredClient struct {
	ID, Secret string
}

// newWorld starts and configures everything, through the product's own
// surfaces except where noted.
func newWorld(t *testing.T) *world {
	t.Helper()
	c := startCluster(t)
	w := &world{cluster: c, redirectURI: rpOrigin + "/cb", logoutURI: rpOrigin + "/signed-out"}
	w.rp = startRP(t, c)

	// Corp: the org of the happy path, with group mappings.
	w.corp = w.newOrg(t, "Corp", "corp.test")
	w.corp.a.must(t, http.StatusCreated, "POST", w.corp.path("/workspaces"), map[string]any{"name": "research"}, nil)
	w.corp.Conn = w.createConnection(t, w.corp, map[string]any{
		"group_roles": map[string]string{"corp-admins": "admin", "ml-team": "opik_member"},
		"group_workspaces": map[string]map[string]string{
			"ml-team":  {"research": "owner"},
			"analysts": {"research": "member"},
		},
	})
	w.corpIdP = peers.StartUpstream(t, peers.UpstreamOptions{Callbacks: []string{w.callbackURL(w.corp.Conn)},
		PostLogout: []string{w.logoutCallbackURL(w.corp.Conn)},
		ClientID:   upstreamClientID, ClientSecret: upstreamClientSecret, Log: c.logFile(t, "upstream-corp")})
	w.enableConnection(t, w.corp, w.corpIdP.Issuer)
	w.verifyDomain(t, w.corp)
	w.autoJIT(t, w.corp)

	// Mixup: an org whose connection names an issuer (the front) whose ID
	// tokens come from another (a second oidc-provider).
	w.mix = w.newOrg(t, "Mixup", "mixup.test")
	w.mix.Conn = w.createConnection(t, w.mix, nil)
	w.mixIdP = peers.StartUpstream(t, peers.UpstreamOptions{Callbacks: []string{w.callbackURL(w.mix.Conn)},
		ClientID: upstreamClientID, ClientSecret: upstreamClientSecret, Log: c.logFile(t, "upstream-mixup")})
	w.mixFront = startMixupFront(t, w.mixIdP.Issuer)
	w.enableConnection(t, w.mix, w.mixFront)
	w.verifyDomain(t, w.mix)
	w.autoJIT(t, w.mix)

	// The platform's applications, registered from the CLI.
	var out struct {
		Client struct {
			ID         string   `json:"id"`
			Public     bool     `json:"public"`
			GrantTypes []string `json:"grant_types"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	c.cli(t, &out, "admin", "client", "create", "--name", "app", "--redirect-uri", w.redirectURI, "--redirect-uri", w.logoutURI)
	if out.Client.Public || out.Secret == "" {
		t.Fatalf("confidential client: %+v", out)
	}
	w.app = registeredClient{ID: out.Client.ID, Secret: out.Secret}
	out.Secret = ""
	c.cli(t, &out, "admin", "client", "create", "--name", "spa", "--public", "--redirect-uri", w.redirectURI, "--redirect-uri", w.logoutURI)
	if !out.Client.Public || out.Secret != "" {
		t.Fatalf("public client: %+v", out)
	}
	w.spa = registeredClient{ID: out.Client.ID}

	// The relying parties: each client through replica A (the issuer's
	// address) and through replica B (same issuer, another process).
	var meta struct {
		Metadata struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		} `json:"metadata"`
	}
	for _, r := range []struct {
		name string
		c    registeredClient
		via  string
	}{{"app@A", w.app, ""}, {"app@B", w.app, c.b.base}, {"spa@A", w.spa, ""}, {"spa@B", w.spa, c.b.base}} {
		req := map[string]any{"rp": r.name, "issuer": c.issuer, "client_id": r.c.ID}
		if r.c.Secret != "" {
			req["client_secret"] = r.c.Secret
		}
		if r.via != "" {
			req["via"] = r.via
		}
		w.rp.must(t, &meta, "discover", req)
		if meta.Metadata.Issuer != c.issuer {
			t.Fatalf("discovery through %s: issuer %q, want %q", r.name, meta.Metadata.Issuer, c.issuer)
		}
	}
	w.jwksA = meta.Metadata.JWKSURI
	w.jwksB = onReplica(meta.Metadata.JWKSURI, c.b)
	w.discoveryB = c.b.base + "/.well-known/openid-configuration"
	w.sameKeys(t)
	return w
}

// sameKeys waits until both replicas publish the same JWKS. Replicas that
// start together on an empty database each create signing keys and settle
// on one set through the directory (compare-and-swap, then a reload on the
// change notification, or at the latest on the 10 s reload tick).
func (w *world) sameKeys(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ja, jb := fetchJSON(t, w.jwksA), fetchJSON(t, w.jwksB)
		if reflect.DeepEqual(ja, jb) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas still publish different JWKS after 15 s:\nA: %v\nB: %v", ja, jb)
		}
	}
}

func (o org) path(p string) string { return "/api/v1/orgs/" + o.ID + p }

// newOrg creates an org and an admin service account with the CLI, as an
// operator does, and adds domain (unverified) through the admin API.
func (w *world) newOrg(t *testing.T, name, domain string) org {
	t.Helper()
	var created struct {
		Org       directory.Organization `json:"org"`
		Workspace directory.Workspace    `json:"workspace"`
	}
	w.cli(t, &created, "admin", "org", "create", "--name", name)
	var sa struct {
		APIKey string `json:"api_key"`
	}
	w.cli(t, &sa, "admin", "service-account", "create", "--org", name, "--name", "e2e-admin", "--role", "admin")
	o := org{ID: created.Org.ID, Name: name, Domain: domain, DefaultWorkspace: created.Workspace.Name, admin: sa.APIKey}
	o.a, o.b = w.api(w.a, sa.APIKey), w.api(w.b, sa.APIKey)
	o.a.must(t, http.StatusCreated, "POST", o.path("/domains"), map[string]any{"domain": domain}, nil)
	return o
}

// createConnection creates the org's OIDC connection, disabled: its
// callback URL (which holds its id) must be registered at the IdP before
// the IdP, and so its issuer URL, exists.
func (w *world) createConnection(t *testing.T, o org, mappings map[string]any) string {
	t.Helper()
	body := map[string]any{"type": "oidc", "name": o.Name + " IdP", "enabled": false,
		"oidc": map[string]any{"issuer": placeholderIssuer(t), "client_id": upstreamClientID, "client_secret": upstreamClientSecret,
			"scopes": []string{"openid", "email", "profile", "groups"}}}
	for k, v := range mappings {
		body[k] = v
	}
	var conn struct {
		ID string `json:"id"`
	}
	o.a.must(t, http.StatusCreated, "POST", o.path("/connections"), body, &conn)
	return conn.ID
}

// placeholderIssuer serves a discovery document that passes the broker's
// save-time checks (reachable, exact issuer, code flow, S256), so that a
// connection can be created before its IdP exists; enableConnection then
// points it at the real IdP. The broker never signs anyone in through it.
func placeholderIssuer(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// enableConnection points the connection at its IdP and enables it
// (PATCH keeps the sealed client secret).
func (w *world) enableConnection(t *testing.T, o org, issuer string) {
	t.Helper()
	var conn struct {
		Enabled bool `json:"enabled"`
		OIDC    struct {
			Issuer          string `json:"issuer"`
			ClientSecretSet bool   `json:"client_secret_set"`
		} `json:"oidc"`
	}
	o.b.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), map[string]any{"enabled": true,
		"oidc": map[string]any{"issuer": issuer, "client_id": upstreamClientID, "scopes": []string{"openid", "email", "profile", "groups"}}}, &conn)
	if !conn.Enabled || conn.OIDC.Issuer != issuer || !conn.OIDC.ClientSecretSet {
		t.Fatalf("connection after PATCH: %+v", conn)
	}
}

// verifyDomain verifies the org's domain as its admin would: the admin API
// names the TXT record to publish, the test publishes it on the cluster's
// DNS server (the replicas ask it, SSOBROKER_DNS_RESOLVER), and
// POST /api/v1/orgs/{org}/domains/{domain}/verify finds it. Before the
// record is published the endpoint refuses (422).
func (w *world) verifyDomain(t *testing.T, o org) {
	t.Helper()
	type domainRow struct {
		Domain       string `json:"domain"`
		Verified     bool   `json:"verified"`
		Verification *struct {
			RecordType  string   `json:"record_type"`
			RecordNames []string `json:"record_names"`
			RecordValue string   `json:"record_value"`
		} `json:"verification"`
	}
	var list struct {
		Items []domainRow `json:"items"`
	}
	o.a.must(t, http.StatusOK, "GET", o.path("/domains"), nil, &list)
	if len(list.Items) != 1 || list.Items[0].Domain != o.Domain || list.Items[0].Verification == nil ||
		list.Items[0].Verification.RecordType != "TXT" || len(list.Items[0].Verification.RecordNames) == 0 {
		t.Fatalf("domains before verification: %+v", list)
	}
	v := list.Items[0].Verification
	if status, raw := o.a.do(t, "POST", o.path("/domains/"+o.Domain+"/verify"), nil, nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("verifying %s before its TXT record is published: %d %s, want 422", o.Domain, status, raw)
	}
	w.dns.set(v.RecordNames[0], v.RecordValue)
	var got domainRow
	o.b.must(t, http.StatusOK, "POST", o.path("/domains/"+o.Domain+"/verify"), nil, &got)
	if !got.Verified || got.Domain != o.Domain {
		t.Fatalf("after verification: %+v", got)
	}
	list.Items = nil
	o.b.must(t, http.StatusOK, "GET", o.path("/domains"), nil, &list)
	if len(list.Items) != 1 || !list.Items[0].Verified {
		t.Fatalf("domains after verification: %+v", list)
	}
}

// autoJIT sets jit_mode=auto through the admin API.
func (w *world) autoJIT(t *testing.T, o org) {
	t.Helper()
	var got directory.Organization
	o.a.must(t, http.StatusOK, "PATCH", o.path(""), map[string]any{"settings": map[string]any{"jit_mode": "auto"}}, &got)
	if got.Settings.JITMode != directory.JITAuto {
		t.Fatalf("jit_mode after PATCH: %+v", got.Settings)
	}
}

// callbackURL is the broker's redirect URI for an OIDC connection.
func (w *world) callbackURL(conn string) string {
	return w.issuer + "/sso/oidc/" + conn + "/callback"
}

// logoutCallbackURL is the broker's post_logout_redirect_uri at the IdP of
// an OIDC connection (upstream RP-initiated logout).
func (w *world) logoutCallbackURL(conn string) string {
	return w.issuer + "/sso/oidc/" + conn + "/logout/callback"
}

func (w *world) isBroker(u *url.URL) bool {
	return u.Host == hostOf(w.a.base) || u.Host == hostOf(w.b.base)
}

func hostOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

// onReplica returns raw (a URL under the issuer) on replica r's address.
func onReplica(raw string, r *replica) string {
	u, _ := url.Parse(raw)
	u.Host = hostOf(r.base)
	return u.String()
}

// finishOnB sends the end of a login to replica B: the upstream callback
// and the continuation to the client. The start (authorize, login) stays
// on A, the issuer's address.
func (w *world) finishOnB(u *url.URL) {
	if strings.HasPrefix(u.Path, "/sso/") || u.Path == "/oauth2/authorize/continue" {
		u.Host = hostOf(w.b.base)
	}
}

// member is an org member as the admin API lists it.
type member struct {
	PrincipalID string `json:"principal_id"`
	Type        string `json:"type"`
	Role        string `json:"role"`
	Name        string `json:"name"`
	Email       string `json:"email"`
}

// members lists the org's members through the admin API of replica B.
func (w *world) members(t *testing.T, o org) []member {
	t.Helper()
	var list struct {
		Items []member `json:"items"`
	}
	o.b.must(t, http.StatusOK, "GET", o.path("/members?limit=500"), nil, &list)
	return list.Items
}

func (w *world) memberByEmail(t *testing.T, o org, email string) (member, bool) {
	t.Helper()
	for _, m := range w.members(t, o) {
		if strings.EqualFold(m.Email, email) {
			return m, true
		}
	}
	return member{}, false
}

// startMixupFront serves, at its own address, the discovery document of
// the IdP behind it with the issuer replaced by its own address and RFC
// 9207 support removed; the endpoints (authorization, token, JWKS) stay
// those of the IdP behind. A broker configured with the front as issuer
// therefore receives, from the token endpoint it was told to use, a
// correctly signed ID token from another issuer.
func startMixupFront(t *testing.T, behind string) string {
	t.Helper()
	var self string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(rw, r)
			return
		}
		resp, err := http.Get(behind + r.URL.Path)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		doc["issuer"] = self
		delete(doc, "authorization_response_iss_parameter_supported")
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	self = srv.URL
	return srv.URL
}

func rnd() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
