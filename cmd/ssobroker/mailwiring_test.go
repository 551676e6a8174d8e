package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// serve wires the configured SMTP server into the admin API: an invitation
// made over HTTP is mailed, and received by an independent SMTP server
// (npm smtp-server; the mail parsed by npm mailparser, e2e/smtp-sink.mjs).
func TestServeMailsInvitations(t *testing.T) {
	peers.RequireNode(t, "smtp-server", "mailparser")
	sink, line := peers.StartScript(t, "smtp-sink.mjs", peers.ScriptOptions{Args: []string{`{}`}})
	var ready struct{ Port int }
	if json.Unmarshal(line, &ready) != nil || ready.Port == 0 {
		t.Fatalf("smtp sink: %s", line)
	}
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(),
		"SSOBROKER_SMTP_URL": "smtp://127.0.0.1:" + strconv.Itoa(ready.Port), "SSOBROKER_MAIL_FROM": "ssobroker <no-reply@sso.test>"}
	if code, _, stderr := runCLI(t, env, "admin", "org", "create", "--name", "Acme"); code != exitOK {
		t.Fatal(stderr)
	}
	code, out, stderr := runCLI(t, env, "admin", "service-account", "create", "--org", "Acme", "--name", "ops", "--role", "admin", "--json")
	if code != exitOK {
		t.Fatal(stderr)
	}
	var sa struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &sa); err != nil {
		t.Fatal(err)
	}
	base, stop := serving(t, env)
	defer stop()
	req, _ := http.NewRequest("POST", base+"/api/v1/orgs/acme/invitations", strings.NewReader(`{"email":"ada@acme.test","role":"platform_member"}`))
	req.Header.Set("Authorization", "Bearer "+sa.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inv struct {
		ID        string `json:"id"`
		AcceptURL string `json:"accept_url"`
		Mail      string `json:"mail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST invitations: %d %v", resp.StatusCode, err)
	}
	if inv.Mail != "sent" || inv.AcceptURL != "http://127.0.0.1:8080/invite/"+inv.ID {
		t.Fatalf("answer %+v, want mail sent and the accept link", inv)
	}
	got, err := sink.Next(20 * time.Second)
	if err != nil {
		t.Fatalf("no mail: %v", err)
	}
	var m struct {
		Mail struct {
			To, Subject, Text string
		} `json:"mail"`
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil || m.Mail.To != "ada@acme.test" || !strings.Contains(m.Mail.Text, inv.AcceptURL) || !strings.Contains(m.Mail.Subject, "Acme") {
		t.Fatalf("mail received: %s", got)
	}
}
