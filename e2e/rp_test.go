package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// rpDriver is rp-driver.mjs: npm openid-client as the relying party and npm
// jose as the access-token verifier, one request line at a time.
type rpDriver struct {
	s   *peers.Script
	seq int
}

func startRP(t *testing.T, log *cluster) *rpDriver {
	t.Helper()
	s, line := peers.StartScript(t, "rp-driver.mjs", peers.ScriptOptions{Stdin: true, Log: log.logFile(t, "rp-driver")})
	if !strings.Contains(string(line), `"ready":true`) {
		t.Fatalf("rp-driver did not start: %s", line)
	}
	return &rpDriver{s: s}
}

// rpError is what openid-client or jose said when an operation failed.
type rpError struct {
	Name             string `json:"name"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Status           int    `json:"status"`
	Chain            string `json:"chain"`
}

func (e *rpError) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// call sends req (op and fields) and decodes the answer into out. It
// returns the peer's error when the operation failed.
func (r *rpDriver) call(t *testing.T, out any, op string, req map[string]any) *rpError {
	t.Helper()
	r.seq++
	req["op"], req["id"] = op, r.seq
	if err := r.s.Send(req); err != nil {
		t.Fatalf("rp-driver %s: %v\n%s", op, err, r.s.Log())
	}
	line, err := r.s.Next(30 * time.Second)
	if err != nil {
		t.Fatalf("rp-driver %s: %v\n%s", op, err, r.s.Log())
	}
	var ans struct {
		ID    int      `json:"id"`
		OK    bool     `json:"ok"`
		Error *rpError `json:"error"`
	}
	if err := json.Unmarshal([]byte(line), &ans); err != nil || ans.ID != r.seq {
		t.Fatalf("rp-driver %s answered %q (%v)", op, line, err)
	}
	if !ans.OK {
		if ans.Error == nil {
			ans.Error = &rpError{Message: "failed without an error"}
		}
		return ans.Error
	}
	if out != nil {
		if err := json.Unmarshal([]byte(line), out); err != nil {
			t.Fatalf("rp-driver %s answered %q: %v", op, line, err)
		}
	}
	return nil
}

// must is call that fails the test when the operation fails.
func (r *rpDriver) must(t *testing.T, out any, op string, req map[string]any) {
	t.Helper()
	if e := r.call(t, out, op, req); e != nil {
		t.Fatalf("openid-client %s failed: %s", op, e)
	}
}

// refused is call that fails the test unless the operation fails with an
// error whose text (name, code, OAuth error, message and causes) contains
// every one of want.
func (r *rpDriver) refused(t *testing.T, op string, req map[string]any, want ...string) *rpError {
	t.Helper()
	e := r.call(t, nil, op, req)
	if e == nil {
		t.Fatalf("openid-client %s succeeded; want a failure mentioning %q", op, want)
	}
	text := strings.Join([]string{e.Name, e.Code, e.Error, e.ErrorDescription, e.Message, e.Chain}, " ")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("openid-client %s failed, but not with %q: %s", op, w, e)
		}
	}
	return e
}

// tokenSet is what the token endpoint answered, as openid-client saw it.
type tokenSet struct {
	Tokens struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
		Scope        string `json:"scope"`
	} `json:"tokens"`
	Claims map[string]any `json:"claims"`
	// MS is the token request as timed by the relying party (code
	// exchange and ID-token validation).
	MS float64 `json:"ms"`
}

func (ts tokenSet) claim(k string) string {
	v, ok := ts.Claims[k]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// flow is one authorization request the relying party built.
type flow struct {
	rp    string
	URL   string `json:"url"`
	Flow  string `json:"flow"`
	State string `json:"state"`
	Nonce string `json:"nonce"`
}

// accessClaims are the claims of our access tokens that the tests read.
type accessClaims struct {
	Iss           string `json:"iss"`
	Sub           string `json:"sub"`
	ClientID      string `json:"client_id"`
	PrincipalType string `json:"principal_type"`
	Org           struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"org"`
	Workspaces []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"workspaces"`
	DefaultWorkspace string `json:"default_workspace"`
}

func (c accessClaims) workspaceRole(name string) string {
	for _, w := range c.Workspaces {
		if w.Name == name {
			return w.Role
		}
	}
	return ""
}
