package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// rpRedirect is the relying party's redirect URI: nothing listens there, the
// driver stops at the redirect to it (as e2e does).
const rpRedirect = "http://127.0.0.1:9/cb"

// upstream is bench/oidcserver run as the corporate IdP: the tokens
// package's OpenID provider with a stand-in sign-in of one user, on
// "localhost" so that its cookies stay apart from the broker's on 127.0.0.1.
type upstream struct {
	p   *proc
	url string
}

func startUpstream(ctx context.Context, e env, bin string) (*upstream, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ready := filepath.Join(e.tmp, "upstream.ready")
	u := &upstream{url: "http://localhost:" + strconv.Itoa(port)}
	u.p, err = startProc(ctx, e.tmp, "upstream", nil, bin, "-addr", "127.0.0.1:"+strconv.Itoa(port), "-issuer", u.url,
		"-database-url", e.dbURL, "-redis-url", "", "-families", "0", "-register", "-id-token-alg", "ES256", "-ready-file", ready)
	if err != nil {
		return nil, err
	}
	for range 600 {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return u, nil
		}
		select {
		case <-u.p.done:
			return nil, fmt.Errorf("upstream exited:\n%s", u.p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	u.p.stop()
	return nil, fmt.Errorf("upstream not ready:\n%s", u.p.tail())
}

// loginSetup is what a deployment needs for browser logins.
type loginSetup struct {
	conn                   string // the OIDC connection to the upstream
	clientID, clientSecret string // the relying party, registered at the broker
}

// setupLogin connects org 0 of d to the upstream through the admin API (the
// broker checks the upstream's discovery when it saves), registers the
// broker's callback at the upstream, turns on just-in-time provisioning,
// and registers a confidential relying party.
func setupLogin(ctx context.Context, hc *http.Client, d *deployment, up *upstream) (loginSetup, error) {
	var ls loginSetup
	org := d.urlA + "/api/v1/orgs/" + d.target.ID
	// The seeded connection cannot reach an IdP: off, so the org has one way in.
	if err := api(ctx, hc, d.adminKey, "PATCH", org+"/connections/"+d.target.ConnectionID, map[string]any{"enabled": false}, 200, nil); err != nil {
		return ls, fmt.Errorf("disable the seeded connection: %w", err)
	}
	scopes := []string{"openid", "email", "profile"}
	var c struct {
		ID string `json:"id"`
	}
	if err := api(ctx, hc, d.adminKey, "POST", org+"/connections", map[string]any{"type": "oidc", "name": "bench upstream", "enabled": false,
		"oidc": map[string]any{"issuer": up.url, "client_id": "pending", "client_secret": "pending", "scopes": scopes}}, 201, &c); err != nil {
		return ls, err
	}
	ls.conn = c.ID
	status, b, err := postForm(ctx, hc, up.url+"/bench/clients", "", url.Values{"redirect_uri": {d.urlA + "/sso/oidc/" + c.ID + "/callback"}})
	if err != nil || status != 200 {
		return ls, fmt.Errorf("register at the upstream: %d %s %v", status, b, err)
	}
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &reg); err != nil {
		return ls, err
	}
	if err := api(ctx, hc, d.adminKey, "PATCH", org+"/connections/"+c.ID, map[string]any{"enabled": true,
		"oidc": map[string]any{"issuer": up.url, "client_id": reg.ClientID, "client_secret": reg.ClientSecret, "scopes": scopes}}, 200, nil); err != nil {
		return ls, err
	}
	if err := api(ctx, hc, d.adminKey, "PATCH", org, map[string]any{"settings": map[string]any{"jit_mode": "auto"}}, 200, nil); err != nil {
		return ls, err
	}
	cl, secret, err := d.store.CreateClient(ctx, "system:bench", directory.NewClient{Name: "report rp", RedirectURIs: []string{rpRedirect}})
	if err != nil {
		return ls, err
	}
	ls.clientID, ls.clientSecret = cl.ID, secret
	return ls, nil
}

// loginTiming is one browser login: the whole of it, and its steps.
type loginTiming struct {
	Total, Callback, Upstream, Exchange time.Duration
	AccessToken, RefreshToken           string
}

// login runs one browser sign-in with a fresh cookie jar, begun on replica A
// (authorize, home-realm discovery) and finished on replica B (the
// upstream's callback, the continuation, the code exchange): a new browser,
// so every login goes to the upstream.
func login(ctx context.Context, d *deployment, ls loginSetup, up *upstream, scope string) (loginTiming, error) {
	var lt loginTiming
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := randHex(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {ls.clientID}, "redirect_uri": {rpRedirect}, "response_type": {"code"}, "scope": {scope},
		"state": {randHex(8)}, "nonce": {randHex(8)}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	next := d.urlA + "/oauth2/authorize?" + q.Encode()
	hostA, hostB := strings.TrimPrefix(d.urlA, "http://"), strings.TrimPrefix(d.urlB, "http://")
	start := time.Now()
	var code string
	for step := 0; code == "" && step < 20; step++ {
		u, err := url.Parse(next)
		if err != nil {
			return lt, err
		}
		if u.Host == hostA || u.Host == hostB {
			switch {
			case u.Path == "/login":
				// Home-realm discovery: the org's page and connection.
				u.Path = "/login/" + d.target.ID
				qq := u.Query()
				qq.Set("connection", ls.conn)
				u.RawQuery = qq.Encode()
			case strings.HasPrefix(u.Path, "/sso/") || u.Path == "/oauth2/authorize/continue":
				u.Host = hostB
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return lt, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		el := time.Since(t0)
		switch {
		case strings.HasPrefix(u.Path, "/sso/oidc/") && strings.HasSuffix(u.Path, "/callback"):
			lt.Callback += el
		case "http://"+u.Host == up.url || strings.HasPrefix(u.String(), up.url):
			lt.Upstream += el
		}
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return lt, fmt.Errorf("login step %s: %d %s", u.Redacted(), resp.StatusCode, clip(body))
		}
		loc, err := u.Parse(resp.Header.Get("Location"))
		if err != nil {
			return lt, err
		}
		if strings.HasPrefix(loc.String(), rpRedirect) {
			code = loc.Query().Get("code")
			if code == "" {
				return lt, fmt.Errorf("login ended without a code: %s", loc)
			}
			break
		}
		next = loc.String()
	}
	if code == "" {
		return lt, fmt.Errorf("login did not end in 20 steps (last %s)", next)
	}
	t0 := time.Now()
	status, b, err := postForm(ctx, hc, d.urlB+"/oauth2/token", basicAuth(ls.clientID, ls.clientSecret),
		url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {verifier}})
	if err != nil {
		return lt, err
	}
	lt.Exchange = time.Since(t0)
	lt.Total = time.Since(start)
	var tok struct {
		AccessToken  string `json:"access_token"`
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if status != 200 || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" || (strings.Contains(scope, "openid") && tok.IDToken == "") {
		return lt, fmt.Errorf("code exchange: %d %s", status, clip(b))
	}
	lt.AccessToken, lt.RefreshToken = tok.AccessToken, tok.RefreshToken
	return lt, nil
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
