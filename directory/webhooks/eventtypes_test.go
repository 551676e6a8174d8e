package webhooks_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/webhooks"
	"github.com/ssobroker/ssobroker/internal/certtest"
)

// TestEveryEventTypeEndToEnd performs, against the real broker on
// PostgreSQL, the action behind each event type of docs/webhooks.md and
// waits for the event at a loopback receiver subscribed to "*": a user
// provisioned over SCIM, a role changed and a member removed through the
// admin API, a user deprovisioned by a SCIM deactivation, a connection
// created through the admin API, a signing key activated by the store call
// key rotation makes, a connection created through a setup link's page,
// failed sign-ins at a SAML connection's ACS, and a SAML certificate 10
// days from expiry found by the periodic check. Every delivery's signature
// is then verified with npm standardwebhooks.
func TestEveryEventTypeEndToEnd(t *testing.T) {
	bin := buildBroker(t)
	dbURL := directorytest.PostgresSchemaURL(t)
	ctx := context.Background()
	s := openStore(t, dbURL)
	org, saID, apiKey := adminKey(t, s)
	rc := newReceiver(t, nil)
	// The certificate check: first 5 s after start, then every minute.
	env := brokerEnv(t, dbURL, "SSOBROKER_CERT_EXPIRY_FIRST_CHECK=5s", "SSOBROKER_CERT_EXPIRY_INTERVAL=1m")
	b := startBroker(t, bin, "broker", env, freeAddr(t))
	client := &http.Client{Timeout: 30 * time.Second}
	api := "/api/v1/orgs/" + org

	var hook struct {
		Secret string `json:"secret"`
	}
	if call(t, client, b.base, apiKey, "POST", api+"/webhooks", map[string]any{"url": rc.URL + "/events", "event_types": []string{"*"}}, &hook) != http.StatusCreated {
		t.FailNow()
	}

	// await waits for a delivered event of type typ whose data satisfies
	// match, and returns it.
	await := func(t *testing.T, typ string, within time.Duration, match func(d webhooks.Data) bool) webhooks.Payload {
		t.Helper()
		var got webhooks.Payload
		waitFor(t, within, typ, func() bool {
			for _, m := range rc.messages() {
				var p webhooks.Payload
				if json.Unmarshal(m.Body, &p) == nil && p.Type == typ && match(p.Data) {
					got = p
					return true
				}
			}
			return false
		})
		return got
	}
	after := func(d webhooks.Data) map[string]any {
		var m map[string]any
		_ = json.Unmarshal(d.After, &m)
		return m
	}

	// A SAML connection whose IdP certificate expires in 10 days, created
	// through the admin API (connection.changed; certificate.expiring later).
	certPEM, fingerprint := expiringCert(t, 10*24*time.Hour)
	var conn struct {
		ID string `json:"id"`
	}
	if call(t, client, b.base, apiKey, "POST", api+"/connections", map[string]any{"type": "saml", "name": "corp", "enabled": true,
		"saml": map[string]any{"entity_id": "https://idp.example.test", "sso_url": "https://idp.example.test/sso", "certificates": []string{certPEM}}}, &conn) != http.StatusCreated {
		t.FailNow()
	}

	t.Run(webhooks.ConnectionChanged, func(t *testing.T) {
		await(t, webhooks.ConnectionChanged, 60*time.Second, func(d webhooks.Data) bool {
			return d.Action == "connection.create" && d.Target == conn.ID && d.Actor == saID
		})
	})

	var scimToken struct {
		Token string `json:"token"`
	}
	if call(t, client, b.base, apiKey, "POST", api+"/scim-tokens", map[string]any{"name": "idp"}, &scimToken) != http.StatusCreated {
		t.FailNow()
	}
	scim := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, b.base+"/scim/v2/"+org+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+scimToken.Token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("SCIM %s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	var userID string
	t.Run(webhooks.UserProvisioned, func(t *testing.T) {
		code, u := scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@events.example","externalId":"ada-1","name":{"givenName":"Ada","familyName":"L"},"active":true}`)
		if code != http.StatusCreated {
			t.Fatalf("SCIM create user: %d %v", code, u)
		}
		userID, _ = u["id"].(string)
		p := await(t, webhooks.UserProvisioned, 60*time.Second, func(d webhooks.Data) bool { return d.User == userID })
		if p.Data.OrgID != org || p.Data.Action != "member.add" {
			t.Fatalf("user.provisioned %+v", p.Data)
		}
	})
	if userID == "" {
		t.FailNow()
	}
	t.Run(webhooks.RoleChanged, func(t *testing.T) {
		if call(t, client, b.base, apiKey, "PATCH", api+"/members/"+userID, map[string]any{"role": "view_only_platform_member"}, nil) != http.StatusOK {
			t.FailNow()
		}
		p := await(t, webhooks.RoleChanged, 60*time.Second, func(d webhooks.Data) bool { return d.User == userID })
		if a := after(p.Data); a["role"] != "view_only_platform_member" {
			t.Fatalf("role.changed after %v", a)
		}
	})
	t.Run(webhooks.UserDeprovisioned, func(t *testing.T) {
		code, u := scim("PATCH", "/Users/"+userID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
		if code != http.StatusOK {
			t.Fatalf("SCIM deactivate: %d %v", code, u)
		}
		await(t, webhooks.UserDeprovisioned, 60*time.Second, func(d webhooks.Data) bool { return d.User == userID && d.Action == "member.remove" })
	})
	t.Run(webhooks.MemberRemoved, func(t *testing.T) {
		// The deactivation above, and a service account removed through
		// the admin API (a member that is no user).
		await(t, webhooks.MemberRemoved, 60*time.Second, func(d webhooks.Data) bool { return d.User == userID })
		var other struct {
			ID string `json:"id"`
		}
		if call(t, client, b.base, apiKey, "POST", api+"/service-accounts", map[string]any{"name": "leaver", "role": "platform_member"}, &other) != http.StatusCreated {
			t.FailNow()
		}
		if call(t, client, b.base, apiKey, "DELETE", api+"/service-accounts/"+other.ID, nil, nil) != http.StatusNoContent {
			t.FailNow()
		}
		await(t, webhooks.MemberRemoved, 60*time.Second, func(d webhooks.Data) bool { return d.Target == other.ID })
	})
	t.Run(webhooks.KeyRotated, func(t *testing.T) {
		// What `ssobroker keys rotate` does once the next key has been
		// published for PublishLead (1 h): the store moves it to active.
		keys, err := s.ListSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kid := ""
		for _, k := range keys {
			if k.State == directory.KeyNext {
				kid = k.ID
			}
		}
		if kid == "" {
			t.Fatalf("no next signing key among %d", len(keys))
		}
		if moved, err := s.TransitionSigningKey(ctx, kid, directory.KeyNext, directory.KeyActive, time.Now(), nil); err != nil || !moved {
			t.Fatalf("activate %s: %v %v", kid, moved, err)
		}
		p := await(t, webhooks.KeyRotated, 60*time.Second, func(d webhooks.Data) bool { return d.Target == kid })
		if p.Data.OrgID != "" || p.Data.Action != "signing_key.active" {
			t.Fatalf("key.rotated %+v", p.Data)
		}
	})
	t.Run(webhooks.SetupLinkUsed, func(t *testing.T) {
		var link struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		}
		if call(t, client, b.base, apiKey, "POST", api+"/setup-links", map[string]any{}, &link) != http.StatusCreated {
			t.FailNow()
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		resp, err := browser.Get(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("setup page: %d, csrf field found: %v", resp.StatusCode, m != nil)
		}
		resp, err = browser.PostForm(link.URL+"/start", url.Values{"csrf": {string(m[1])}, "idp": {"okta"}, "name": {"Okta via setup link"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			t.Fatalf("setup link start: %d", resp.StatusCode)
		}
		p := await(t, webhooks.SetupLinkUsed, 60*time.Second, func(d webhooks.Data) bool { return d.Action == "connection.create" })
		if p.Data.Actor != directory.SetupLinkActor(link.ID) {
			t.Fatalf("setup_link.used actor %q", p.Data.Actor)
		}
	})
	t.Run(webhooks.SignInFailed, func(t *testing.T) {
		// Forged answers at the connection's ACS, and at one that does not
		// exist (no event: nobody to attribute it to).
		for i := range 3 {
			for _, c := range []string{conn.ID, "conn_doesnotexist"} {
				resp, err := client.PostForm(b.base+"/sso/saml/"+c+"/acs", url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte("<forged n='" + string(rune('0'+i)) + "'/>"))}})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode < 400 {
					t.Fatalf("a forged SAMLResponse was answered %d", resp.StatusCode)
				}
			}
		}
		p := await(t, webhooks.SignInFailed, 60*time.Second, func(d webhooks.Data) bool { return d.Target == conn.ID })
		a := after(p.Data)
		if p.Data.Actor != directory.SystemActor || a["connection_id"] != conn.ID || a["reason"] == "" || a["count"].(float64) < 1 || a["window_seconds"].(float64) != 60 {
			t.Fatalf("signin.failed %+v after %v", p.Data, a)
		}
		// Within the window: one event per connection and reason, and none
		// for the unknown connection.
		time.Sleep(6 * time.Second)
		perReason := map[any]int{}
		for _, m := range rc.messages() {
			var q webhooks.Payload
			if json.Unmarshal(m.Body, &q) == nil && q.Type == webhooks.SignInFailed {
				if q.Data.Target != conn.ID {
					t.Fatalf("signin.failed for %q", q.Data.Target)
				}
				perReason[after(q.Data)["reason"]]++
			}
		}
		for r, n := range perReason {
			if n > 1 {
				t.Fatalf("%d signin.failed events for reason %v within one window", n, r)
			}
		}
		t.Logf("signin.failed: %v", a)
	})
	t.Run(webhooks.CertificateExpiring, func(t *testing.T) {
		p := await(t, webhooks.CertificateExpiring, 150*time.Second, func(d webhooks.Data) bool { return d.Target == conn.ID && bytes.Contains(d.After, []byte(fingerprint)) })
		a := after(p.Data)
		if a["kind"] != "idp_signing" || a["threshold_days"].(float64) != 30 || a["days_left"].(float64) != 9 {
			t.Fatalf("certificate.expiring %v", a)
		}
	})

	// Every delivery verified independently.
	var msgs []signed
	for _, m := range rc.messages() {
		msgs = append(msgs, toSigned(t, hook.Secret, m, true))
	}
	verifyWithNode(t, msgs)
}

// expiringCert is a self-signed ECDSA certificate valid for in from now,
// and its SHA-256 fingerprint as the events carry it.
func expiringCert(t *testing.T, in time.Duration) (string, string) {
	t.Helper()
	der, _ := certtest.SelfSigned(t, certtest.ECDSAKey(t), x509.Certificate{SerialNumber: big.NewInt(7),
		Subject: pkix.Name{CommonName: "idp.example.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(in)})
	return certtest.PEM(der), sha256Hex(der)
}

// sha256Hex is a fingerprint in the events' form: SHA-256, upper-case hex
// pairs joined by colons.
func sha256Hex(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}
