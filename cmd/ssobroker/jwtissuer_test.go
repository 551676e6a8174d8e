package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The CLI trusts an external JWT issuer with the widened mapping (a user
// claim with a capped role claim, or the round-1 service account), refuses
// a bad mapping naming what is wrong, lists, shows and deletes it.
func TestJWTIssuerCommands(t *testing.T) {
	vars := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(), "SSOBROKER_SECRET_KEY": strings.Repeat("A", 43) + "="}
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, vars, append([]string{"admin"}, args...)...)
	}
	if code, _, stderr := cli("org", "create", "--name", "Acme"); code != exitOK {
		t.Fatal(stderr)
	}
	code, out, stderr := cli("jwt-issuer", "create", "--org", "acme", "--name", "idp", "--iss", "https://idp.acme.test",
		"--audience", "ssobroker", "--user-claim", "email", "--role-claim", "ssb_role", "--max-role", "opik_member", "--json")
	if code != exitOK {
		t.Fatalf("create: %d %s", code, stderr)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(out), &j); err != nil || j["user_match"] != "email" || j["max_role"] != "opik_member" {
		t.Fatalf("created %s (%v)", out, err)
	}
	for _, bad := range [][]string{
		{"--user-claim", "sub", "--role-claim", "r"},             // no cap
		{"--user-claim", "sub", "--service-account", "sa_x"},     // two principals
		{"--user-claim", "sub", "--max-role", "root"},            // not a role
		{"--user-claim", "sub", "--jwks-uri", "ftp://keys.test"}, // not an http(s) URL
	} {
		args := append([]string{"jwt-issuer", "create", "--org", "acme", "--name", "bad", "--iss", "https://x.acme.test", "--audience", "a"}, bad...)
		if code, _, stderr := cli(args...); code == exitOK || stderr == "" {
			t.Errorf("%v: accepted (%d)", bad, code)
		}
	}
	if code, out, _ := cli("jwt-issuer", "list", "--org", "acme"); code != exitOK || !strings.Contains(out, "https://idp.acme.test") || !strings.Contains(out, "at most opik_member") {
		t.Fatalf("list: %d %s", code, out)
	}
	id := j["id"].(string)
	if code, out, _ := cli("jwt-issuer", "show", "--org", "acme", "--id", id); code != exitOK || !strings.Contains(out, "recent refusals") {
		t.Fatalf("show: %d %s", code, out)
	}
	if code, _, stderr := cli("jwt-issuer", "delete", "--org", "acme", "--id", id); code != exitOK {
		t.Fatalf("delete: %s", stderr)
	}
	if code, out, _ := cli("jwt-issuer", "list", "--org", "acme"); code != exitOK || strings.Contains(out, "idp.acme.test") {
		t.Fatalf("after delete: %s", out)
	}
}
