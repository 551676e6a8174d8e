package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestBackchannelLogout proves OpenID Connect Back-Channel Logout 1.0
// (docs/logout.md) end to end: a relying party (e2e/backchannel-rp.mjs)
// verifies each logout_token with npm jose against the broker's JWKS (iss,
// aud, typ logout+jwt, §2.4 and §2.6 claims) and answers 500 to the first
// delivery of each session, so the broker must retry; the sessions end by
// RP-initiated logout and by removing the member through the admin API.
func TestBackchannelLogout(t *testing.T) {
	w := newWorld(t)
	rp := startBackchannelRP(t, w)

	var out struct {
		Client struct {
			ID                   string `json:"id"`
			BackchannelLogoutURI string `json:"backchannel_logout_uri"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	w.cli(t, &out, "admin", "client", "create", "--name", "bc-app", "--redirect-uri", w.redirectURI,
		"--redirect-uri", w.logoutURI, "--backchannel-logout-uri", rp.url)
	if out.Secret == "" || out.Client.ID == "" {
		t.Fatalf("client with a back-channel logout URI: %+v", out)
	}
	bc := registeredClient{ID: out.Client.ID, Secret: out.Secret}
	if err := rp.s.Send(map[string]string{"audience": bc.ID}); err != nil {
		t.Fatal(err)
	}
	// w.app (created by newWorld) is the client without one.
	for name, c := range map[string]registeredClient{"bc@A": bc, "plain@A": w.app} {
		w.rp.must(t, nil, "discover", map[string]any{"rp": name, "issuer": w.issuer, "client_id": c.ID, "client_secret": c.Secret})
	}

	t.Run("RP-initiated logout reaches the client that got tokens in the session, retried", func(t *testing.T) {
		// A session in which only the client without a back-channel URI got
		// tokens: its end is delivered to nobody.
		quiet := corpAccount("staff")
		qb, _, qts := w.login(t, "plain@A", quiet, nil)
		w.endSessionAt(t, qb, "plain@A", qts)

		a := corpAccount("staff")
		b, _, ts := w.login(t, "bc@A", a, nil)
		sid, sub := ts.claim("sid"), ts.claim("sub")
		if sid == "" || sub == "" {
			t.Fatalf("ID token claims %v: want sid and sub", ts.Claims)
		}
		// The same browser session also signs in to the other client.
		f := w.authorize(t, "plain@A", nil)
		if cb, p := w.navigate(b, f.URL, nav{}); cb == nil || cb.Query().Get("code") == "" {
			t.Fatalf("second client's sign-in in the same session stopped at %d %s", p.status, p.url)
		} else if pts := w.exchange(t, f, cb); pts.claim("sid") != sid {
			t.Fatalf("sid %q for the second client, want the session's %q", pts.claim("sid"), sid)
		}

		took := w.endSessionAt(t, b, "bc@A", ts)
		// The page did not wait for the RP's failing first delivery (which is
		// retried about a second later).
		if took > 3*time.Second {
			t.Errorf("/oauth2/logout answered in %s: it must not wait for back-channel deliveries", took)
		}
		// A token about quiet's session would fail expectSession on its sid.
		rp.expectSession(t, bc.ID, sid, sub)
	})

	t.Run("removing the member through the admin API reaches the client", func(t *testing.T) {
		a := corpAccount("staff")
		_, _, ts := w.login(t, "bc@A", a, nil)
		sid, sub := ts.claim("sid"), ts.claim("sub")
		if sid == "" || sub == "" {
			t.Fatalf("ID token claims %v: want sid and sub", ts.Claims)
		}
		start := time.Now()
		w.corp.a.must(t, http.StatusNoContent, "DELETE", w.corp.path("/members/"+sub), nil, nil)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("DELETE member answered in %s: it must not wait for back-channel deliveries", took)
		}
		rp.expectSession(t, bc.ID, sid, sub)
	})
}

// endSessionAt has rp's openid-client build the end-session URL with the ID
// token as hint and the browser b follow it; it returns how long
// /oauth2/logout took to answer.
func (w *world) endSessionAt(t *testing.T, b *browser, rp string, ts tokenSet) time.Duration {
	t.Helper()
	var es struct {
		URL string `json:"url"`
	}
	w.rp.must(t, &es, "end_session_url", map[string]any{"rp": rp, "params": map[string]any{
		"id_token_hint": ts.Tokens.IDToken, "post_logout_redirect_uri": w.logoutURI, "state": "bye"}})
	start := time.Now()
	p := b.get(es.URL, true)
	took := time.Since(start)
	if !p.redirect() {
		t.Fatalf("/oauth2/logout: %d, want a redirect (hinted logout)\n%s", p.status, p.body)
	}
	if acct := b.get(w.issuer+"/account", true); acct.status == http.StatusOK {
		t.Fatalf("/account after /oauth2/logout: 200")
	}
	return took
}

// backchannelRP is e2e/backchannel-rp.mjs.
type backchannelRP struct {
	s   *peers.Script
	url string
}

// backchannelDelivery is one POST the RP received.
type backchannelDelivery struct {
	Status  int            `json:"status"`
	Invalid string         `json:"invalid"`
	Claims  map[string]any `json:"claims"`
	Header  map[string]any `json:"header"`
}

func startBackchannelRP(t *testing.T, w *world) *backchannelRP {
	t.Helper()
	cfg, _ := json.Marshal(map[string]string{"issuer": w.issuer, "jwks_uri": w.jwksA})
	s, line := peers.StartScript(t, "backchannel-rp.mjs", peers.ScriptOptions{Args: []string{string(cfg)}, Stdin: true,
		Log: w.logFile(t, "backchannel-rp")})
	var ready struct {
		Ready bool   `json:"ready"`
		URL   string `json:"url"`
	}
	if err := json.Unmarshal(line, &ready); err != nil || !ready.Ready || !strings.HasPrefix(ready.URL, "http://127.0.0.1:") {
		t.Fatalf("backchannel-rp did not start: %s", line)
	}
	return &backchannelRP{s: s, url: ready.URL}
}

// expectSession reads the RP's deliveries until the session sid's
// logout_token was accepted, and checks that it came exactly once after
// exactly one refused attempt, for the right client and user, and that
// nothing else (an invalid token, or a token about another session)
// arrived meanwhile; then that no further delivery follows.
func (rp *backchannelRP) expectSession(t *testing.T, clientID, sid, sub string) {
	t.Helper()
	var failed, accepted int
	deadline := time.Now().Add(45 * time.Second)
	for accepted == 0 {
		d := rp.next(t, time.Until(deadline))
		if d == nil {
			t.Fatalf("no accepted logout_token for session %s within 45 s (%d refused attempts)", sid, failed)
		}
		if d.Claims["sid"] != sid {
			t.Fatalf("a logout_token about another session %v (want only %s): %+v", d.Claims["sid"], sid, d)
		}
		if d.Claims["sub"] != sub || d.Claims["aud"] != clientID || d.Header["typ"] != "logout+jwt" {
			t.Fatalf("logout_token %+v: want sub %s, aud %s, typ logout+jwt", d, sub, clientID)
		}
		switch d.Status {
		case http.StatusInternalServerError:
			failed++
		case http.StatusOK:
			accepted++
			t.Logf("logout_token verified by jose after %d refused attempt(s): header %v claims %v", failed, d.Header, d.Claims)
		}
	}
	if failed != 1 {
		t.Fatalf("%d refused attempts before the accepted one, want exactly 1 (the RP refuses only the first)", failed)
	}
	// Nothing more for this session: a second accepted delivery would be a
	// duplicate (the broker stops at the first 200).
	if d := rp.next(t, 3*time.Second); d != nil {
		t.Fatalf("another delivery after the accepted one: %+v", d)
	}
}

// next returns the RP's next delivery within timeout, or nil; an invalid
// token fails t.
func (rp *backchannelRP) next(t *testing.T, timeout time.Duration) *backchannelDelivery {
	t.Helper()
	if timeout <= 0 {
		return nil
	}
	line, err := rp.s.Next(timeout)
	if err != nil {
		if strings.Contains(err.Error(), "said nothing") {
			return nil
		}
		t.Fatalf("backchannel-rp: %v\n%s", err, rp.s.Log())
	}
	var d backchannelDelivery
	if err := json.Unmarshal([]byte(line), &d); err != nil {
		t.Fatalf("backchannel-rp printed %q: %v", line, err)
	}
	if d.Invalid != "" {
		t.Fatalf("the RP refused a delivery: %s (claims %v)", d.Invalid, d.Claims)
	}
	return &d
}
