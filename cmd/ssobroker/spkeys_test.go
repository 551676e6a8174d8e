package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// The CLI takes the steps of a SAML SP key rotation on the same path as the
// admin API: the next key is published, then activated, then the previous
// one retired, each step audited with the operator as actor; a step out of
// order is refused and changes nothing.
func TestSPKeyRotateCommand(t *testing.T) {
	dir := t.TempDir()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	vars := map[string]string{"SSOBROKER_DATA_DIR": dir, "SSOBROKER_SECRET_KEY": key}
	if code, _, stderr := runCLI(t, vars, "admin", "org", "create", "--name", "Acme"); code != exitOK {
		t.Fatal(stderr)
	}
	ctx := context.Background()
	cfg := &config{DataDir: dir, SecretKey: key}
	e := &env{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	box, err := e.secretBox()
	if err != nil {
		t.Fatal(err)
	}
	s, err := directory.OpenSQLite(ctx, cfg.sqlitePath(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.GetOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	section, _ := json.Marshal(map[string]any{"metadata_xml": samltest.NewIdP(t, "https://idp.example.test/saml").Metadata("https://idp.example.test/sso")})
	prep, err := saml.Configurator{}.Validate(ctx, idp.ConfigureInput{Section: section, Seal: box.Seal, Now: time.Now()})
	if err != nil || len(prep.Problems) > 0 {
		t.Fatalf("%v %v", err, prep.Problems)
	}
	conn, err := s.CreateConnection(ctx, "system:test", directory.Connection{OrgID: o.ID, Type: directory.ConnectionSAML, Name: "IdP", Config: []byte(`{}`)})
	if err == nil {
		var sealed json.RawMessage
		if sealed, err = prep.Seal(conn.ID); err == nil {
			conn.Config, _ = json.Marshal(map[string]json.RawMessage{"saml": sealed})
			conn, err = s.UpdateConnection(ctx, "system:test", conn)
		}
	}
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	rotate := func(step string) (int, directory.SPKeys, string) {
		code, out, stderr := runCLI(t, vars, "admin", "connection", "sp-key-rotate", "--org", "acme", "--connection", conn.ID, "--step", step, "--json")
		var keys directory.SPKeys
		_ = json.Unmarshal([]byte(out), &keys)
		return code, keys, stderr
	}
	if code, _, stderr := rotate("activate"); code == exitOK || !strings.Contains(stderr, "no next SP key") {
		t.Fatalf("activate before publish: exit %d: %s", code, stderr)
	}
	code, keys, stderr := rotate("publish")
	if code != exitOK || keys.Next == nil || keys.Next.SHA256 == keys.Current.SHA256 {
		t.Fatalf("publish: exit %d %+v %s", code, keys, stderr)
	}
	next := keys.Next.SHA256
	if code, keys, stderr = rotate("activate"); code != exitOK || keys.Current.SHA256 != next || keys.Previous == nil {
		t.Fatalf("activate: exit %d %+v %s", code, keys, stderr)
	}
	if code, keys, stderr = rotate("retire"); code != exitOK || keys.Previous != nil || keys.Current.SHA256 != next {
		t.Fatalf("retire: exit %d %+v %s", code, keys, stderr)
	}
	s, err = directory.OpenSQLite(ctx, cfg.sqlitePath(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, action := range []string{"connection.sp_key.publish", "connection.sp_key.activate", "connection.sp_key.retire"} {
		events, _, err := s.ListAudit(ctx, o.ID, directory.AuditFilter{Action: action, Page: directory.Page{Limit: 10}})
		if err != nil || len(events) != 1 || !strings.HasPrefix(events[0].Actor, "cli:") && events[0].Actor != cliActor {
			t.Fatalf("%s audit %+v, %v", action, events, err)
		}
	}
}
