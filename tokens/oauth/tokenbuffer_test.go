package oauth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens"
)

// The token endpoint reads each request's body into a pooled buffer and
// writes the answer into the same buffer (TokenHandler). Concurrent
// requests of two service accounts, mixed with failures and with bodies
// large enough to grow the buffer past what the pool keeps, must each get a
// fresh token of their own account: never another request's answer, never
// the same token twice.
func TestConcurrentTokenRequestsEachGetTheirOwnFreshToken(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t), withIssuerConfig(func(c *tokens.IssuerConfig) {
		c.ServiceAccountScopes = []string{"opik"}
		c.FailedAuthLimit = 1000 // the failures here are part of the mix, not an attack
	}))
	sa2, secret2 := e.newServiceAccount(e.org.ID, "second-bot", access.RolePlatformMember)
	accounts := []struct{ id, secret string }{{e.sa.ID, e.secret}, {sa2.ID, secret2}}

	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	const workers, perWorker = 8, 40
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				acct := accounts[(w+i)%2]
				form := url.Values{"grant_type": {"client_credentials"}}
				switch i % 4 {
				case 1:
					form.Set("scope", "opik")
				case 2: // an ignored parameter that grows the body past the pooled size
					form.Set("padding", strings.Repeat("p", 3000+(i%3)*10000))
				}
				secret := acct.secret
				wantOK := i%5 != 4
				if !wantOK {
					secret = "ssb_" + strings.Repeat("0", len(acct.secret)-4)
				}
				status, body, err := postForm(e.http.URL+tokens.PathToken, form, acct.id, secret)
				if err != nil {
					t.Error(err)
					return
				}
				if !wantOK {
					if status != http.StatusUnauthorized || !strings.Contains(body, `"invalid_client"`) || strings.Contains(body, "access_token") {
						t.Errorf("wrong secret: %d %s", status, body)
					}
					continue
				}
				var resp tokens.TokenResponse
				if status != http.StatusOK || json.Unmarshal([]byte(body), &resp) != nil {
					t.Errorf("%s: %d %s", acct.id, status, body)
					continue
				}
				if want := form.Get("scope"); resp.Scope != want {
					t.Errorf("%s: scope %q, asked for %q", acct.id, resp.Scope, want)
				}
				c, err := payloadOf(resp.AccessToken)
				if err != nil {
					t.Errorf("%s: %v", acct.id, err)
					continue
				}
				if c.Subject != acct.id || c.Scope != form.Get("scope") {
					t.Errorf("%s got a token for %s (scope %q)", acct.id, c.Subject, c.Scope)
				}
				mu.Lock()
				if seen[c.JWTID] || seen[resp.AccessToken] {
					t.Errorf("token %s served twice", c.JWTID)
				}
				seen[c.JWTID], seen[resp.AccessToken] = true, true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if want := 2 * workers * perWorker * 4 / 5; len(seen) != want {
		t.Fatalf("%d distinct tokens and ids, want %d", len(seen), want)
	}
}

// postForm is a Basic-authenticated form POST that is safe off the test's
// goroutine.
func postForm(u string, form url.Values, user, pass string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

// payloadOf decodes a token's claims without verifying it (the signature
// is another test's business), safe off the test's goroutine.
func payloadOf(tok string) (tokens.AccessClaims, error) {
	var c tokens.AccessClaims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("not a compact JWS: %q", tok)
	}
	raw, err := b64url(parts[1])
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(raw, &c)
}
