package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
)

func TestHelpAtEveryLevel(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": filepath.Join(t.TempDir(), "absent")}
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"}, {"admin", "--help"}, {"admin", "-h"}, {"admin", "help"},
		{"admin", "org", "--help"}, {"admin", "org", "create", "-h"}, {"admin", "org", "create", "--help"},
		{"help", "admin", "org", "create"}, {"help", "admin"}, {"keys", "--help"}, {"serve", "-h"}, {"version", "--help"},
		{"admin", "sign-in-link", "-h"}, {"admin", "member", "invite", "--help"},
	} {
		code, out, stderr := runCLI(t, env, args...)
		if code != exitOK || !strings.Contains(out, "Usage") || stderr != "" {
			t.Errorf("%q: exit %d, stdout %.80q, stderr %.200q; want exit 0 and the help on stdout", args, code, out, stderr)
		}
	}
	_, out, _ := runCLI(t, env, "admin", "org", "--help")
	if !strings.Contains(out, "admin org create") || !strings.Contains(out, "admin org list") || strings.Contains(out, "admin member") {
		t.Errorf("admin org --help lists other commands or misses its own:\n%s", out)
	}
	if _, err := os.Stat(env["SSOBROKER_DATA_DIR"]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("help created the data dir")
	}
}

func TestUsageErrorsExitTwoWithTheUsage(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{}, {"admin"}, {"nope"}, {"admin", "nope"}, {"admin", "org"}, {"admin", "org", "create"},
		{"admin", "org", "create", "--name", "X", "--bogus"}, {"admin", "org", "list", "extra"},
		{"version", "--addr", "127.0.0.1:1"}, {"help", "nope"}, {"admin", "sign-in-link", "--org", "x", "--email", "a@b.c", "--ttl", "16m"},
	} {
		code, out, stderr := runCLI(t, env, args...)
		if code != exitUsage || !strings.Contains(stderr, "Usage") || out != "" {
			t.Errorf("%q: exit %d, stderr %.300q; want exit 2 with the usage on stderr", args, code, stderr)
		}
	}
}

// flagsIn lists the flags a command's help shows.
func flagsIn(help string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}

// Each command's help lists only the flags it reads: server flags on serve,
// store flags where the store is opened, --json where there is output.
func TestEachCommandListsOnlyTheFlagsItReads(t *testing.T) {
	env := map[string]string{}
	for _, c := range commandTable() {
		code, out, _ := runCLI(t, env, append(strings.Fields(c.path), "-h")...)
		if code != exitOK {
			t.Fatalf("%s -h: exit %d", c.path, code)
		}
		got := flagsIn(out)
		has := func(f string) bool { return slices.Contains(got, f) }
		for _, server := range []string{"addr", "redis-url", "trusted-proxies", "allow-private-idp", "opik-trust-username-header"} {
			if has(server) != (c.path == "serve") {
				t.Errorf("%s: --%s listed %v; it is a server flag", c.path, server, has(server))
			}
		}
		opens := c.flags&flagsStore != 0
		for _, store := range []string{"database-url", "data-dir", "secret-key"} {
			if has(store) != opens {
				t.Errorf("%s: --%s listed %v, the command opens the store: %v", c.path, store, has(store), opens)
			}
		}
		if has("json") != (c.path != "serve") {
			t.Errorf("%s: --json listed %v", c.path, has("json"))
		}
		wantIssuer := c.path == "serve" || c.path == "admin bootstrap" || c.path == "admin sign-in-link" || c.path == "admin member invite" || c.path == "admin invitation list"
		if has("issuer") != wantIssuer {
			t.Errorf("%s: --issuer listed %v, want %v", c.path, has("issuer"), wantIssuer)
		}
		if has("smtp-url") != (c.path == "serve" || c.path == "admin member invite") {
			t.Errorf("%s: --smtp-url listed %v", c.path, has("smtp-url"))
		}
	}
	// A flag a command does not read is a usage error, not silently ignored.
	if code, _, _ := runCLI(t, env, "admin", "org", "list", "--addr", "127.0.0.1:9"); code != exitUsage {
		t.Errorf("admin org list --addr: exit %d, want %d", code, exitUsage)
	}
}

func TestCLIRefusesADataDirThatDoesNotExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SSOBROKER_DATA_DIR": dir}
	for _, args := range [][]string{{"admin", "org", "list"}, {"keys", "list"}, {"admin", "sign-in-link", "--org", "a", "--email", "a@b.c"}} {
		code, _, stderr := runCLI(t, env, args...)
		if code != exitFailed || !strings.Contains(stderr, "no ssobroker data in "+dir) || !strings.Contains(stderr, "SSOBROKER_DATA_DIR") {
			t.Errorf("%q in a missing data dir: exit %d, %s", args, code, stderr)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused command created %s", dir)
	}
	// bootstrap starts a deployment, so it may create the data dir.
	if code, _, stderr := runCLI(t, env, "admin", "bootstrap", "--org", "Acme", "--email", "ada@acme.test"); code != exitOK {
		t.Fatalf("bootstrap: %s", stderr)
	}
	code, _, stderr := runCLI(t, env, "admin", "org", "list")
	abs, _ := filepath.Abs(dir)
	if code != exitOK || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "data dir "+abs) {
		t.Fatalf("org list must say, in one line, which data dir it opened: exit %d, stderr %q", code, stderr)
	}
}

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// The CLI never opens sealed data with a key that cannot open it, and never
// writes a development key beside it.
func TestCLIRefusesSealedDataItCannotOpen(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := newKey(), newKey()
	with := func(key string) map[string]string {
		e := map[string]string{"SSOBROKER_DATA_DIR": dir}
		if key != "" {
			e["SSOBROKER_SECRET_KEY"] = key
		}
		return e
	}
	if code, _, stderr := runCLI(t, with(k1), "keys", "rotate"); code != exitOK { // creates sealed signing keys
		t.Fatalf("keys rotate: %s", stderr)
	}
	for _, key := range []string{k2, ""} {
		for _, args := range [][]string{{"keys", "list"}, {"admin", "org", "list"}} {
			code, _, stderr := runCLI(t, with(key), args...)
			if code != exitFailed || !strings.Contains(stderr, "SSOBROKER_SECRET_KEY") || !strings.Contains(stderr, dir) {
				t.Errorf("%q with the wrong key (key set: %v): exit %d, %s", args, key != "", code, stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a development key was written beside sealed data")
	}
	if code, out, stderr := runCLI(t, with(k1), "keys", "list"); code != exitOK || out == "" {
		t.Fatalf("keys list with the right key: exit %d, %s", code, stderr)
	}

	// A deployment on a development key: another configured key is refused.
	dev := t.TempDir()
	devEnv := map[string]string{"SSOBROKER_DATA_DIR": dev}
	if code, _, stderr := runCLI(t, devEnv, "keys", "rotate"); code != exitOK {
		t.Fatalf("keys rotate on a development key: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dev, "secret.key")); err != nil {
		t.Fatalf("no development key: %v", err)
	}
	devEnv["SSOBROKER_SECRET_KEY"] = k1
	if code, _, stderr := runCLI(t, devEnv, "admin", "org", "list"); code != exitFailed || !strings.Contains(stderr, "SSOBROKER_SECRET_KEY") {
		t.Errorf("a configured key beside a development key's data: exit %d, %s", code, stderr)
	}
	delete(devEnv, "SSOBROKER_SECRET_KEY")
	if code, _, stderr := runCLI(t, devEnv, "keys", "list"); code != exitOK {
		t.Errorf("keys list on the development key: %s", stderr)
	}
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:8080/admin/sign-in/([A-Za-z0-9]+)`)

// redeem opens the data dir's store after the CLI ran and redeems token.
func redeem(t *testing.T, dir, token string) (directory.SignInLink, error) {
	t.Helper()
	s, err := directory.OpenSQLite(context.Background(), filepath.Join(dir, "ssobroker.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.RedeemSignInLink(context.Background(), token)
}

func TestBootstrapAndSignInLinks(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SSOBROKER_DATA_DIR": dir}
	code, out, stderr := runCLI(t, env, "admin", "bootstrap", "--org", "Acme Corp", "--email", "ada@acme.test")
	if code != exitOK {
		t.Fatalf("bootstrap: %s", stderr)
	}
	m := linkRE.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "admin sign-in-link --org 'Acme Corp' --email ada@acme.test") || !strings.Contains(out, "Connections") {
		t.Fatalf("bootstrap does not print the link and what to do next:\n%s", out)
	}
	l, err := redeem(t, dir, m[1])
	if err != nil {
		t.Fatalf("the bootstrap link does not open a session: %v", err)
	}
	if _, err := redeem(t, dir, m[1]); !errors.Is(err, directory.ErrLinkUsed) {
		t.Fatalf("the link worked twice: %v", err)
	}

	code, out, stderr = runCLI(t, env, "admin", "sign-in-link", "--org", "acme corp", "--email", "ADA@acme.test", "--ttl", "5m", "--json")
	if code != exitOK {
		t.Fatalf("sign-in-link: %s", stderr)
	}
	var res struct {
		URL  string               `json:"sign_in_url"`
		Link directory.SignInLink `json:"sign_in_link"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Link.UserID != l.UserID || res.Link.ExpiresAt.Sub(res.Link.CreatedAt).Minutes() != 5 {
		t.Fatalf("sign-in-link --json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(res.Link.CreatedBy, "cli:") || res.Link.CreatedBy == "cli:" {
		t.Errorf("the link's creator is %q, want cli:<os user>", res.Link.CreatedBy)
	}
	if _, err := redeem(t, dir, linkRE.FindStringSubmatch(res.URL)[1]); err != nil {
		t.Fatalf("the sign-in-link link does not work: %v", err)
	}
	if code, _, stderr := runCLI(t, env, "admin", "sign-in-link", "--org", "Acme Corp", "--email", "stranger@acme.test"); code != exitFailed || !strings.Contains(stderr, "not a member") {
		t.Errorf("a link for a non-member: exit %d, %s", code, stderr)
	}
}

func TestMemberInvitePrintsTheLinkAndTheMailStatus(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SSOBROKER_DATA_DIR": dir, "SSOBROKER_ISSUER": "https://sso.example.com"}
	if code, _, stderr := runCLI(t, env, "admin", "org", "create", "--name", "Acme"); code != exitOK {
		t.Fatal(stderr)
	}
	invite := func(env map[string]string, email string) map[string]any {
		t.Helper()
		code, out, stderr := runCLI(t, env, "admin", "member", "invite", "--org", "acme", "--email", email, "--role", "admin", "--json")
		if code != exitOK {
			t.Fatalf("invite %s: exit %d: %s", email, code, stderr)
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := invite(env, "bob@acme.test")
	id := res["invitation"].(map[string]any)["id"].(string)
	if res["accept_url"] != "https://sso.example.com/invite/"+id || res["mail"] != "not_configured" {
		t.Fatalf("invite without SMTP: %v", res)
	}
	// A mail server that is not there: the invitation stays and says so.
	failing := map[string]string{"SSOBROKER_DATA_DIR": dir, "SSOBROKER_ISSUER": "https://sso.example.com",
		"SSOBROKER_SMTP_URL": "smtp://" + freeAddr(t), "SSOBROKER_MAIL_FROM": "ssobroker <no-reply@sso.example.com>"}
	res = invite(failing, "carol@acme.test")
	if res["mail"] != "failed" || res["accept_url"] == "" {
		t.Fatalf("invite with a dead SMTP server: %v", res)
	}
	code, out, _ := runCLI(t, env, "admin", "invitation", "list", "--org", "Acme")
	if code != exitOK || !strings.Contains(out, "carol@acme.test") || !strings.Contains(out, "pending") || !strings.Contains(out, "https://sso.example.com/invite/"+id) {
		t.Fatalf("invitation list: %s", out)
	}
	if code, _, stderr := runCLI(t, env, "admin", "invitation", "revoke", "--org", "Acme", "--id", id); code != exitOK {
		t.Fatal(stderr)
	}
	if code, _, _ := runCLI(t, env, "admin", "invitation", "revoke", "--org", "Acme", "--id", id); code != exitFailed {
		t.Errorf("revoking twice: exit %d", code)
	}
	bad := map[string]string{"SSOBROKER_DATA_DIR": dir, "SSOBROKER_SMTP_URL": "http://mail", "SSOBROKER_MAIL_FROM": "x"}
	if code, _, stderr := runCLI(t, bad, "admin", "org", "list"); code != exitUsage || !strings.Contains(stderr, "SSOBROKER_SMTP_URL") || !strings.Contains(stderr, "SSOBROKER_MAIL_FROM") {
		t.Errorf("a bad mail configuration: exit %d, %s", code, stderr)
	}
}

func TestWorkspaceMemberAndKeyCommands(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()}
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, env, args...)
		if code != exitOK {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		return out
	}
	cli("admin", "bootstrap", "--org", "Acme", "--email", "ada@acme.test")
	cli("admin", "workspace", "create", "--org", "Acme", "--name", "research")
	if out := cli("admin", "workspace", "list", "--org", "Acme"); !strings.Contains(out, "research") || !strings.Contains(out, "default") {
		t.Errorf("workspace list:\n%s", out)
	}
	var sa struct {
		ServiceAccount struct{ ID string } `json:"service_account"`
	}
	if err := json.Unmarshal([]byte(cli("admin", "service-account", "create", "--org", "Acme", "--name", "ci", "--json")), &sa); err != nil || sa.ServiceAccount.ID == "" {
		t.Fatalf("service-account create: %v", err)
	}
	if out := cli("admin", "service-account", "list", "--org", "Acme"); !strings.Contains(out, sa.ServiceAccount.ID) {
		t.Errorf("service-account list:\n%s", out)
	}
	var key struct {
		Key    struct{ ID string } `json:"key"`
		APIKey string              `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(cli("admin", "key", "create", "--org", "Acme", "--service-account", sa.ServiceAccount.ID, "--json")), &key); err != nil || !strings.HasPrefix(key.APIKey, "ssb_") {
		t.Fatalf("key create: %v %+v", err, key)
	}
	cli("admin", "key", "revoke", "--org", "Acme", "--key", key.Key.ID)
	cli("admin", "member", "invite", "--org", "Acme", "--email", "bob@acme.test")
	if out := cli("admin", "member", "list", "--org", "Acme"); !strings.Contains(out, "ada@acme.test") || !strings.Contains(out, "admin") {
		t.Errorf("member list:\n%s", out)
	}
	// The last admin stays: the directory's invariant reaches the CLI.
	if code, _, stderr := runCLI(t, env, "admin", "member", "remove", "--org", "Acme", "--email", "ada@acme.test"); code != exitFailed || !strings.Contains(stderr, "admin") {
		t.Errorf("removing the last admin: exit %d, %s", code, stderr)
	}
	if code, _, _ := runCLI(t, env, "admin", "member", "remove", "--org", "Acme"); code != exitUsage {
		t.Errorf("member remove without --user or --email: exit %d", code)
	}
}
