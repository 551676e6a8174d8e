package directory_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func testConnections(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("connections are created, listed, updated and deleted", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		c := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{
			OrgID: o.ID, Type: directory.ConnectionSAML, Name: "Okta", Enabled: true, Config: []byte(`{"entity_id":"x"}`),
		}))
		if !strings.HasPrefix(c.ID, "conn_") || c.CreatedAt.IsZero() {
			t.Fatalf("connection = %+v", c)
		}
		got := must[directory.Connection](t)(s.GetConnection(bg, o.ID, c.ID))
		if got.Name != "Okta" || got.Type != directory.ConnectionSAML || !got.Enabled || !bytes.Equal(got.Config, c.Config) || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("stored %+v, created %+v", got, c)
		}
		d := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "Google"}))
		if string(d.Config) != "{}" {
			t.Fatalf("a connection without config stores %q", d.Config)
		}
		list := must[[]directory.Connection](t)(s.ListConnections(bg, o.ID))
		if len(list) != 2 {
			t.Fatalf("listed %+v", list)
		}
		c.Name, c.Enabled, c.Config = "Okta EU", false, []byte(`{"entity_id":"y"}`)
		c.Type = directory.ConnectionOIDC // the type cannot change
		u := must[directory.Connection](t)(s.UpdateConnection(bg, actorSystem, c))
		got = must[directory.Connection](t)(s.GetConnection(bg, o.ID, c.ID))
		if got.Name != "Okta EU" || got.Enabled || string(got.Config) != `{"entity_id":"y"}` || got.Type != directory.ConnectionSAML || u.Type != directory.ConnectionSAML {
			t.Fatalf("after update: stored %+v, returned %+v", got, u)
		}
		noErr(t, s.DeleteConnection(bg, actorSystem, o.ID, c.ID))
		_, err := s.GetConnection(bg, o.ID, c.ID)
		wantNotFound(t, err, c.ID)
		wantNotFound(t, s.DeleteConnection(bg, actorSystem, o.ID, c.ID), c.ID)
		_, err = s.UpdateConnection(bg, actorSystem, c)
		wantNotFound(t, err, c.ID)
	})

	t.Run("connection names are unique per org", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		conn := directory.Connection{OrgID: a.ID, Type: directory.ConnectionOIDC, Name: "Entra"}
		must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, conn))
		_, err := s.CreateConnection(bg, actorSystem, conn)
		wantConflict(t, err)
		conn.OrgID = b.ID
		must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, conn))
		other := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: a.ID, Type: directory.ConnectionOIDC, Name: "Other"}))
		other.Name = "Entra"
		_, err = s.UpdateConnection(bg, actorSystem, other)
		wantConflict(t, err)
	})

	t.Run("invalid connections are refused", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		_, err := s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: o.ID, Type: "ldap", Name: "x"})
		wantInvalid(t, err, "type")
		_, err = s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: o.ID, Type: directory.ConnectionSAML, Name: ""})
		wantInvalid(t, err, "name")
		_, err = s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: "org_nope", Type: directory.ConnectionSAML, Name: "x"})
		wantNotFound(t, err, "org_nope")
	})

	t.Run("an update without a configuration keeps it or is refused as invalid", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		c := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{
			OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "Keep", Config: []byte(`{"issuer":"https://idp"}`),
		}))
		_, err := s.UpdateConnection(bg, actorSystem, directory.Connection{OrgID: o.ID, ID: c.ID, Name: "Kept", Enabled: true})
		if err != nil {
			wantInvalid(t, err, "config")
			return
		}
		if got := must[directory.Connection](t)(s.GetConnection(bg, o.ID, c.ID)); string(got.Config) != `{"issuer":"https://idp"}` {
			t.Fatalf("config after a name-only update = %q", got.Config)
		}
	})
}

func testDomains(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("a domain routes logins only once verified, and only for one org", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		c, _ := newOrg(t, s)
		name := "corp-" + tok() + ".example"
		da := must[directory.Domain](t)(s.AddDomain(bg, actorSystem, a.ID, strings.ToUpper(name)+"."))
		if da.Domain != name || da.Token == "" || da.VerifiedAt != nil || da.OrgID != a.ID {
			t.Fatalf("domain = %+v", da)
		}
		_, err := s.AddDomain(bg, actorSystem, a.ID, name)
		wantConflict(t, err)
		db := must[directory.Domain](t)(s.AddDomain(bg, actorSystem, b.ID, name)) // unverified claims may compete
		if db.Token == da.Token {
			t.Fatal("two claims share a verification token")
		}
		_, err = s.FindVerifiedDomain(bg, name)
		wantNotFound(t, err, name)

		v := must[directory.Domain](t)(s.MarkDomainVerified(bg, actorSystem, a.ID, strings.ToUpper(name)))
		if v.VerifiedAt == nil {
			t.Fatal("verified domain has no verification time")
		}
		found := must[directory.Domain](t)(s.FindVerifiedDomain(bg, strings.ToUpper(name)))
		if found.OrgID != a.ID {
			t.Fatalf("verified domain routes to %s, want %s", found.OrgID, a.ID)
		}
		_, err = s.MarkDomainVerified(bg, actorSystem, b.ID, name)
		wantConflict(t, err)
		_, err = s.AddDomain(bg, actorSystem, c.ID, name)
		wantConflict(t, err)
		again := must[directory.Domain](t)(s.MarkDomainVerified(bg, actorSystem, a.ID, name))
		if again.VerifiedAt == nil {
			t.Fatal("verifying twice lost the verification")
		}
		list := must[[]directory.Domain](t)(s.ListDomains(bg, b.ID))
		if len(list) != 1 || list[0].VerifiedAt != nil {
			t.Fatalf("b's domains = %+v", list)
		}

		noErr(t, s.DeleteDomain(bg, actorSystem, a.ID, name))
		_, err = s.FindVerifiedDomain(bg, name)
		wantNotFound(t, err, name)
		must[directory.Domain](t)(s.MarkDomainVerified(bg, actorSystem, b.ID, name))
		if got := must[directory.Domain](t)(s.FindVerifiedDomain(bg, name)); got.OrgID != b.ID {
			t.Fatalf("after a's release the domain routes to %s", got.OrgID)
		}
		wantNotFound(t, s.DeleteDomain(bg, actorSystem, a.ID, name), name)
	})

	t.Run("invalid domains are refused", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		for _, d := range []string{"", "localhost", "not a domain.com", "a..b", ".com", "xn--.com", "-bad-.example", "gmail.com", "Proton.ME."} {
			_, err := s.AddDomain(bg, actorSystem, o.ID, d)
			wantInvalid(t, err, "domain")
		}
		_, err := s.MarkDomainVerified(bg, actorSystem, o.ID, "unclaimed-"+tok()+".example")
		wantNotFound(t, err, "")
	})
}

func testClients(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("a confidential client gets a secret shown once, stored hashed", func(t *testing.T) {
		t.Parallel()
		c, secret, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "Platform", RedirectURIs: []string{"https://app.example.com/callback"}})
		noErr(t, err)
		if secret == "" || c.Public || !strings.HasPrefix(c.ID, "cli_") || !bytes.Equal(c.SecretHash, directory.HashSecret(secret)) {
			t.Fatalf("client = %+v secret %q", c, secret)
		}
		if !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) {
			t.Fatalf("default grant types = %v", c.GrantTypes)
		}
		got := must[directory.Client](t)(s.GetClient(bg, c.ID))
		if !bytes.Equal(got.SecretHash, directory.HashSecret(secret)) || bytes.Contains(got.SecretHash, []byte(secret)) ||
			!slices.Equal(got.RedirectURIs, c.RedirectURIs) || !slices.Equal(got.GrantTypes, c.GrantTypes) || got.Name != "Platform" {
			t.Fatalf("stored client %+v", got)
		}
		_, err = s.GetClient(bg, "cli_nope")
		wantNotFound(t, err, "cli_nope")
	})

	t.Run("a public client has no secret", func(t *testing.T) {
		t.Parallel()
		c, secret, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "CLI", Public: true,
			RedirectURIs: []string{"http://127.0.0.1:8085/cb", "http://localhost/cb", "http://[::1]:9000/cb"}, GrantTypes: []string{"authorization_code"}})
		noErr(t, err)
		if secret != "" || !c.Public || len(c.SecretHash) != 0 {
			t.Fatalf("public client %+v secret %q", c, secret)
		}
		if got := must[directory.Client](t)(s.GetClient(bg, c.ID)); !got.Public || len(got.SecretHash) != 0 || len(got.RedirectURIs) != 3 {
			t.Fatalf("stored public client %+v", got)
		}
	})

	t.Run("redirect URIs are https or loopback http, absolute, without fragment", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"http://app.example.com/cb", "https://app.example.com/cb#frag", "/relative/cb", "app.example.com/cb",
			"https://user:pw@app.example.com/cb", "ftp://app.example.com/cb", "http://localhost.evil.example/cb", "javascript:alert(1)", ""} {
			_, _, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "Bad", RedirectURIs: []string{u}})
			wantInvalid(t, err, "redirect_uri")
		}
		_, _, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "None"})
		wantInvalid(t, err, "redirect_uri")
		_, _, err = s.CreateClient(bg, actorSystem, directory.NewClient{Name: "Grant", RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"password"}})
		wantInvalid(t, err, "grant_types")
		_, _, err = s.CreateClient(bg, actorSystem, directory.NewClient{Name: "", RedirectURIs: []string{"https://a.example/cb"}})
		wantInvalid(t, err, "name")
	})
}

func testSigningKeys(t *testing.T, s directory.Store, open func(testing.TB) directory.Store) {
	t.Run("a signing key moves next → active exactly once, even under contention", func(t *testing.T) {
		t.Parallel()
		s := open(t) // the key set is deployment-wide
		now := time.Now().UTC().Truncate(time.Microsecond)
		k := directory.SigningKey{ID: "kid-" + tok(), Algorithm: "ES256", State: directory.KeyNext, Sealed: []byte("sealed"), PublicJWK: []byte(`{"kty":"EC"}`), CreatedAt: now}
		noErr(t, s.InsertSigningKey(bg, k))
		wantConflict(t, s.InsertSigningKey(bg, k))
		keys := must[[]directory.SigningKey](t)(s.ListSigningKeys(bg))
		if len(keys) != 1 || keys[0].ID != k.ID || keys[0].State != directory.KeyNext || !bytes.Equal(keys[0].Sealed, k.Sealed) ||
			!bytes.Equal(keys[0].PublicJWK, k.PublicJWK) || !keys[0].CreatedAt.Equal(now) || keys[0].ActivatedAt != nil {
			t.Fatalf("stored keys %+v", keys)
		}
		var moved [8]bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range moved {
			wg.Go(func() {
				<-start
				ok, err := s.TransitionSigningKey(bg, k.ID, directory.KeyNext, directory.KeyActive, now, nil)
				if err != nil {
					t.Errorf("transition: %v", err)
				}
				moved[i] = ok
			})
		}
		close(start)
		wg.Wait()
		if n := len(slices.DeleteFunc(moved[:], func(b bool) bool { return !b })); n != 1 {
			t.Fatalf("%d of %d concurrent transitions moved the key, want 1", n, len(moved))
		}
		ok, err := s.TransitionSigningKey(bg, k.ID, directory.KeyNext, directory.KeyActive, now, nil)
		noErr(t, err)
		if ok {
			t.Fatal("a second identical transition moved the key again")
		}
		keys = must[[]directory.SigningKey](t)(s.ListSigningKeys(bg))
		if keys[0].State != directory.KeyActive || keys[0].ActivatedAt == nil || !keys[0].ActivatedAt.Equal(now) {
			t.Fatalf("after activation: %+v", keys[0])
		}
		_, err = s.TransitionSigningKey(bg, k.ID, directory.KeyActive, directory.KeyNext, now, nil)
		wantInvalid(t, err, "state")
	})

	t.Run("retired keys are deleted once expired", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		now := time.Now().UTC().Truncate(time.Microsecond)
		ins := func(id string, st directory.SigningKeyState) {
			noErr(t, s.InsertSigningKey(bg, directory.SigningKey{ID: id, Algorithm: "ES256", State: st, Sealed: []byte("s"), PublicJWK: []byte("{}"), CreatedAt: now}))
		}
		ins("old", directory.KeyActive)
		ins("older", directory.KeyActive)
		ins("current", directory.KeyActive)
		past, future := now.Add(-time.Minute), now.Add(time.Hour)
		for id, exp := range map[string]time.Time{"old": past, "older": future} {
			ok, err := s.TransitionSigningKey(bg, id, directory.KeyActive, directory.KeyRetired, now, &exp)
			noErr(t, err)
			if !ok {
				t.Fatalf("retiring %s did not move it", id)
			}
		}
		n := must[int](t)(s.DeleteExpiredSigningKeys(bg, now))
		if n != 1 {
			t.Fatalf("deleted %d keys, want 1", n)
		}
		var ids []string
		for _, k := range must[[]directory.SigningKey](t)(s.ListSigningKeys(bg)) {
			ids = append(ids, k.ID)
			if k.ID == "older" && (k.State != directory.KeyRetired || k.ExpiresAt == nil || !k.ExpiresAt.Equal(future) || k.RetiredAt == nil) {
				t.Fatalf("retired key = %+v", k)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"current", "older"}) {
			t.Fatalf("keys left: %v", ids)
		}
		noErr(t, s.DeleteSigningKey(bg, actorSystem, "current"))
		wantNotFound(t, s.DeleteSigningKey(bg, actorSystem, "current"), "current")
	})

	t.Run("a revoked token stays revoked until it expires", func(t *testing.T) {
		t.Parallel()
		jti := "jti-" + tok()
		if revoked := must[bool](t)(s.TokenRevoked(bg, jti)); revoked {
			t.Fatal("an unknown token is revoked")
		}
		exp := time.Now().Add(time.Hour)
		noErr(t, s.RevokeToken(bg, jti, exp))
		noErr(t, s.RevokeToken(bg, jti, exp)) // idempotent
		if revoked := must[bool](t)(s.TokenRevoked(bg, jti)); !revoked {
			t.Fatal("a revoked token is not revoked")
		}
		short := "jti-" + tok()
		noErr(t, s.RevokeToken(bg, short, time.Now().Add(-time.Second)))
		must[int](t)(s.DeleteExpiredSigningKeys(bg, time.Now()))
		if revoked := must[bool](t)(s.TokenRevoked(bg, jti)); !revoked {
			t.Fatal("cleanup forgot a token that has not expired")
		}
		if revoked := must[bool](t)(s.TokenRevoked(bg, short)); revoked {
			t.Fatal("cleanup kept a token that expired")
		}
	})
}

func testAudit(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("every change is audited with actor, action and target", func(t *testing.T) {
		t.Parallel()
		type want struct{ actor, action, target string }
		var wants []want
		note := func(actor, action, target string) { wants = append(wants, want{actor, action, target}) }

		o, def, err := s.CreateOrg(bg, "usr_root", directory.NewOrg{Name: "Audited " + tok()})
		noErr(t, err)
		note("usr_root", "org.create", o.ID)
		note("usr_root", "workspace.create", def.ID)
		a := newUser(t, s)
		must[directory.Member](t)(s.AddMember(bg, "usr_root", o.ID, a.ID, access.RoleAdmin))
		note("usr_root", "member.add", a.ID)
		must[directory.Organization](t)(s.UpdateOrg(bg, a.ID, o.ID, directory.OrgUpdate{JITMode: ptr(directory.JITAuto)}))
		note(a.ID, "org.update", o.ID)
		w := must[directory.Workspace](t)(s.CreateWorkspace(bg, a.ID, o.ID, "aud-"+tok(), ""))
		note(a.ID, "workspace.create", w.ID)
		must[directory.Workspace](t)(s.RenameWorkspace(bg, a.ID, o.ID, w.ID, "aud-"+tok()))
		note(a.ID, "workspace.rename", w.ID)
		noErr(t, s.SetDefaultWorkspace(bg, a.ID, o.ID, w.ID))
		note(a.ID, "workspace.set_default", w.ID)
		b := newUser(t, s)
		must[directory.Member](t)(s.AddMember(bg, a.ID, o.ID, b.ID, access.RolePlatformMember))
		note(a.ID, "member.add", b.ID)
		must[directory.Member](t)(s.SetMemberRole(bg, a.ID, o.ID, b.ID, access.RoleViewOnly, 0))
		note(a.ID, "member.role", b.ID)
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, a.ID, o.ID, def.ID, b.ID, access.Membership{Role: access.WorkspaceMember}))
		note(a.ID, "workspace.member.put", def.ID+"/"+b.ID)
		noErr(t, s.RemoveWorkspaceMember(bg, a.ID, o.ID, def.ID, b.ID))
		note(a.ID, "workspace.member.remove", def.ID+"/"+b.ID)
		noErr(t, s.RemoveMember(bg, a.ID, o.ID, b.ID))
		note(a.ID, "member.remove", b.ID)
		noErr(t, s.DeleteWorkspace(bg, a.ID, o.ID, def.ID, ""))
		note(a.ID, "workspace.delete", def.ID)

		email := "aud-" + tok() + "@example.com"
		inv := must[directory.Invitation](t)(s.CreateInvitation(bg, a.ID, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RoleOpikMember}))
		note(a.ID, "invitation.create", inv.ID)
		noErr(t, s.RevokeInvitation(bg, a.ID, o.ID, inv.ID))
		note(a.ID, "invitation.revoke", inv.ID)
		inv = must[directory.Invitation](t)(s.CreateInvitation(bg, a.ID, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RoleOpikMember}))
		note(a.ID, "invitation.create", inv.ID)
		invited := must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: email, EmailVerified: true}))
		must[directory.Member](t)(s.AcceptInvitation(bg, o.ID, inv.ID, invited.ID))
		note(invited.ID, "invitation.accept", inv.ID)

		r1, r2 := newUser(t, s), newUser(t, s)
		j1 := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, r1.ID))
		note(r1.ID, "join_request.create", j1.ID)
		j2 := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, r2.ID))
		note(r2.ID, "join_request.create", j2.ID)
		must[directory.Member](t)(s.ApproveJoinRequest(bg, a.ID, o.ID, j1.ID))
		note(a.ID, "join_request.approve", j1.ID)
		noErr(t, s.DenyJoinRequest(bg, a.ID, o.ID, j2.ID))
		note(a.ID, "join_request.deny", j2.ID)

		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		note(actorSystem, "service_account.create", sa.ID)
		must[directory.ServiceAccount](t)(s.RenameServiceAccount(bg, a.ID, o.ID, sa.ID, "aud "+tok()))
		note(a.ID, "service_account.rename", sa.ID)
		k, _, err := s.CreateAPIKey(bg, a.ID, o.ID, sa.ID)
		noErr(t, err)
		note(a.ID, "api_key.create", k.ID)
		noErr(t, s.RevokeAPIKey(bg, a.ID, o.ID, k.ID))
		note(a.ID, "api_key.revoke", k.ID)
		noErr(t, s.DeleteServiceAccount(bg, a.ID, o.ID, sa.ID))
		note(a.ID, "service_account.delete", sa.ID)

		c := must[directory.Connection](t)(s.CreateConnection(bg, a.ID, directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "Aud"}))
		note(a.ID, "connection.create", c.ID)
		c.Enabled = true
		must[directory.Connection](t)(s.UpdateConnection(bg, a.ID, c))
		note(a.ID, "connection.update", c.ID)
		noErr(t, s.DeleteConnection(bg, a.ID, o.ID, c.ID))
		note(a.ID, "connection.delete", c.ID)
		dom := "aud-" + tok() + ".example"
		must[directory.Domain](t)(s.AddDomain(bg, a.ID, o.ID, dom))
		note(a.ID, "domain.add", dom)
		must[directory.Domain](t)(s.MarkDomainVerified(bg, a.ID, o.ID, dom))
		note(a.ID, "domain.verify", dom)
		noErr(t, s.DeleteDomain(bg, a.ID, o.ID, dom))
		note(a.ID, "domain.delete", dom)

		events := allAudit(t, s, o.ID, directory.AuditFilter{})
		for _, w := range wants {
			if !slices.ContainsFunc(events, func(e directory.AuditEvent) bool {
				return e.Actor == w.actor && e.Action == w.action && e.Target == w.target && e.OrgID == o.ID && !e.At.IsZero()
			}) {
				t.Errorf("no audit entry %+v", w)
			}
		}
		for _, e := range events {
			if e.Action == "member.role" && (!strings.Contains(e.Before, string(access.RolePlatformMember)) || !strings.Contains(e.After, string(access.RoleViewOnly))) {
				t.Errorf("member.role entry does not summarize the change: %+v", e)
			}
		}
		if len(events) != len(wants) {
			t.Errorf("%d audit entries for %d changes", len(events), len(wants))
		}

		// Changes outside any org are audited under the empty org.
		_, _, err = s.CreateClient(bg, a.ID, directory.NewClient{Name: "Aud", RedirectURIs: []string{"https://aud.example/cb"}})
		noErr(t, err)
		global := allAudit(t, s, "", directory.AuditFilter{Actor: a.ID})
		if !slices.ContainsFunc(global, func(e directory.AuditEvent) bool { return e.Action == "client.create" }) {
			t.Errorf("client creation not audited: %+v", global)
		}
		global = allAudit(t, s, "", directory.AuditFilter{Action: "user.create"})
		if !slices.ContainsFunc(global, func(e directory.AuditEvent) bool { return e.Target == a.ID && e.Actor == actorSystem }) {
			t.Error("user creation not audited")
		}
	})

	t.Run("the audit log filters by actor, action and time, newest first, page by page", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		alice, bob := "usr_alice"+tok(), "usr_bob"+tok()
		var ws []directory.Workspace
		for range 3 {
			ws = append(ws, must[directory.Workspace](t)(s.CreateWorkspace(bg, alice, o.ID, "f-"+tok(), "")))
		}
		time.Sleep(5 * time.Millisecond)
		since := time.Now()
		time.Sleep(5 * time.Millisecond)
		for _, w := range ws {
			must[directory.Workspace](t)(s.RenameWorkspace(bg, bob, o.ID, w.ID, "g-"+tok()))
		}
		must[directory.Workspace](t)(s.CreateWorkspace(bg, bob, o.ID, "h-"+tok(), ""))

		all := allAudit(t, s, o.ID, directory.AuditFilter{})
		if len(all) != 9 { // org.create, workspace.create (default), 3 creates, 3 renames, 1 create
			t.Fatalf("%d entries, want 9", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID >= all[i-1].ID || all[i].At.After(all[i-1].At) {
				t.Fatalf("not newest first: %+v before %+v", all[i-1], all[i])
			}
		}
		if all[0].Action != "workspace.create" || all[0].Actor != bob || all[len(all)-1].Action != "org.create" {
			t.Fatalf("newest %+v, oldest %+v", all[0], all[len(all)-1])
		}
		count := func(f directory.AuditFilter) int { return len(allAudit(t, s, o.ID, f)) }
		if n := count(directory.AuditFilter{Actor: alice}); n != 3 {
			t.Errorf("alice: %d entries, want 3", n)
		}
		if n := count(directory.AuditFilter{Action: "workspace.rename"}); n != 3 {
			t.Errorf("renames: %d entries, want 3", n)
		}
		if n := count(directory.AuditFilter{Actor: bob, Action: "workspace.create"}); n != 1 {
			t.Errorf("bob's creates: %d entries, want 1", n)
		}
		if n := count(directory.AuditFilter{Since: since}); n != 4 {
			t.Errorf("since: %d entries, want 4", n)
		}
		if n := count(directory.AuditFilter{Since: since, Actor: alice}); n != 0 {
			t.Errorf("alice since: %d entries, want 0", n)
		}
		_, _, err := s.ListAudit(bg, o.ID, directory.AuditFilter{Page: directory.Page{After: "not-a-cursor"}})
		wantInvalid(t, err, "cursor")
	})
}

// allAudit reads every page of the org's audit log, two entries at a time.
func allAudit(t testing.TB, s directory.Store, orgID string, f directory.AuditFilter) []directory.AuditEvent {
	t.Helper()
	f.Limit = 2
	var out []directory.AuditEvent
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("audit pagination does not end")
		}
		events, next, err := s.ListAudit(bg, orgID, f)
		noErr(t, err)
		if len(events) > 2 {
			t.Fatalf("page of %d entries with limit 2", len(events))
		}
		out = append(out, events...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

// testTenantIsolation hands every call that takes an org and an object of org
// A's the id of org B: each must answer not found and change nothing.
func testTenantIsolation(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("org B's id never reaches org A's objects", func(t *testing.T) {
		t.Parallel()
		a, defA := newOrg(t, s)
		b, defB := newOrg(t, s)
		newWorkspace(t, s, b.ID) // so that B's default could be deleted
		adminA := newMember(t, s, a.ID, access.RoleAdmin)
		memberA := newMember(t, s, a.ID, access.RolePlatformMember)
		adminB := newMember(t, s, b.ID, access.RoleAdmin)
		wsA := must[directory.Workspace](t)(s.CreateWorkspace(bg, adminA.ID, a.ID, "iso-"+tok(), memberA.ID))
		email := "iso-" + tok() + "@example.com"
		invA := must[directory.Invitation](t)(s.CreateInvitation(bg, adminA.ID, directory.NewInvitation{OrgID: a.ID, Email: email, Role: access.RoleAdmin}))
		invitee := must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: email, EmailVerified: true}))
		reqA := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, a.ID, newUser(t, s).ID))
		saA := newServiceAccount(t, s, a.ID, access.RoleAdmin)
		keyA, secretA, err := s.CreateAPIKey(bg, adminA.ID, a.ID, saA.ID)
		noErr(t, err)
		connA := must[directory.Connection](t)(s.CreateConnection(bg, adminA.ID, directory.Connection{OrgID: a.ID, Type: directory.ConnectionSAML, Name: "A IdP"}))
		domA := must[directory.Domain](t)(s.AddDomain(bg, adminA.ID, a.ID, "iso-"+tok()+".example"))
		x := adminB.ID // the actor is B's admin throughout

		calls := map[string]func() error{
			"GetWorkspace":         func() error { _, err := s.GetWorkspace(bg, b.ID, wsA.ID); return err },
			"GetWorkspace by name": func() error { _, err := s.GetWorkspace(bg, b.ID, wsA.Name); return err },
			"RenameWorkspace":      func() error { _, err := s.RenameWorkspace(bg, x, b.ID, wsA.ID, "stolen-"+tok()); return err },
			"SetDefaultWorkspace":  func() error { return s.SetDefaultWorkspace(bg, x, b.ID, wsA.ID) },
			"DeleteWorkspace":      func() error { return s.DeleteWorkspace(bg, x, b.ID, wsA.ID, "") },
			"DeleteWorkspace (new default)": func() error {
				return s.DeleteWorkspace(bg, x, b.ID, defB.ID, wsA.ID)
			},
			"ListWorkspaceMembers": func() error { _, _, err := s.ListWorkspaceMembers(bg, b.ID, wsA.ID, directory.Page{}); return err },
			"PutWorkspaceMember": func() error {
				_, err := s.PutWorkspaceMember(bg, x, b.ID, wsA.ID, adminB.ID, access.Membership{Role: access.WorkspaceOwner})
				return err
			},
			"PutWorkspaceMember (A's member)": func() error {
				_, err := s.PutWorkspaceMember(bg, x, b.ID, defB.ID, memberA.ID, access.Membership{Role: access.WorkspaceOwner})
				return err
			},
			"RemoveWorkspaceMember": func() error { return s.RemoveWorkspaceMember(bg, x, b.ID, wsA.ID, memberA.ID) },
			"GetMember":             func() error { _, err := s.GetMember(bg, b.ID, memberA.ID); return err },
			"SetMemberRole":         func() error { _, err := s.SetMemberRole(bg, x, b.ID, memberA.ID, access.RoleAdmin, 0); return err },
			"RemoveMember":          func() error { return s.RemoveMember(bg, x, b.ID, adminA.ID) },
			"AddMember (A's account)": func() error {
				_, err := s.AddMember(bg, x, b.ID, saA.ID, access.RoleAdmin)
				return err
			},
			"GetInvitation":        func() error { _, err := s.GetInvitation(bg, b.ID, invA.ID); return err },
			"RevokeInvitation":     func() error { return s.RevokeInvitation(bg, x, b.ID, invA.ID) },
			"AcceptInvitation":     func() error { _, err := s.AcceptInvitation(bg, b.ID, invA.ID, invitee.ID); return err },
			"ApproveJoinRequest":   func() error { _, err := s.ApproveJoinRequest(bg, x, b.ID, reqA.ID); return err },
			"DenyJoinRequest":      func() error { return s.DenyJoinRequest(bg, x, b.ID, reqA.ID) },
			"GetServiceAccount":    func() error { _, err := s.GetServiceAccount(bg, b.ID, saA.ID); return err },
			"RenameServiceAccount": func() error { _, err := s.RenameServiceAccount(bg, x, b.ID, saA.ID, "stolen"); return err },
			"DeleteServiceAccount": func() error { return s.DeleteServiceAccount(bg, x, b.ID, saA.ID) },
			"CreateAPIKey":         func() error { _, _, err := s.CreateAPIKey(bg, x, b.ID, saA.ID); return err },
			"ListAPIKeys":          func() error { _, err := s.ListAPIKeys(bg, b.ID, saA.ID); return err },
			"RevokeAPIKey":         func() error { return s.RevokeAPIKey(bg, x, b.ID, keyA.ID) },
			"GetConnection":        func() error { _, err := s.GetConnection(bg, b.ID, connA.ID); return err },
			"UpdateConnection": func() error {
				c := connA
				c.OrgID, c.Name = b.ID, "stolen"
				_, err := s.UpdateConnection(bg, x, c)
				return err
			},
			"DeleteConnection":   func() error { return s.DeleteConnection(bg, x, b.ID, connA.ID) },
			"MarkDomainVerified": func() error { _, err := s.MarkDomainVerified(bg, x, b.ID, domA.Domain); return err },
			"DeleteDomain":       func() error { return s.DeleteDomain(bg, x, b.ID, domA.Domain) },
			"PrincipalAccess":    func() error { _, err := s.PrincipalAccess(bg, b.ID, memberA.ID); return err },
		}
		for name, call := range calls {
			var nf *directory.NotFoundError
			if err := call(); !errors.As(err, &nf) {
				t.Errorf("%s with org B and A's object: %v, want not found", name, err)
			}
		}

		// A's objects are untouched.
		if got := must[directory.Workspace](t)(s.GetWorkspace(bg, a.ID, wsA.ID)); got.Name != wsA.Name {
			t.Errorf("A's workspace renamed to %s", got.Name)
		}
		if o := must[directory.Organization](t)(s.GetOrg(bg, a.ID)); o.Settings.DefaultWorkspace != defA.ID {
			t.Error("A's default workspace moved")
		}
		if o := must[directory.Organization](t)(s.GetOrg(bg, b.ID)); o.Settings.DefaultWorkspace != defB.ID {
			t.Error("B's default workspace moved to A's workspace")
		}
		if ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, a.ID, memberA.ID)); len(ws) != 1 || ws[0].Role != access.WorkspaceOwner {
			t.Errorf("A's member's workspaces changed: %+v", ws)
		}
		if ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, b.ID, adminB.ID)); len(ws) != 0 {
			t.Errorf("B's admin joined %v", wsMemberNames(ws))
		}
		if m := must[directory.Member](t)(s.GetMember(bg, a.ID, memberA.ID)); m.Role != access.RolePlatformMember {
			t.Errorf("A's member became %s", m.Role)
		}
		if inv := must[directory.Invitation](t)(s.GetInvitation(bg, a.ID, invA.ID)); inv.State != directory.InvitationPending {
			t.Errorf("A's invitation is %s", inv.State)
		}
		if kp := must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, secretA)); kp.Account.OrgID != a.ID {
			t.Errorf("A's key now belongs to %s", kp.Account.OrgID)
		}
		if c := must[directory.Connection](t)(s.GetConnection(bg, a.ID, connA.ID)); c.Name != "A IdP" {
			t.Errorf("A's connection renamed to %s", c.Name)
		}
		if ds := must[[]directory.Domain](t)(s.ListDomains(bg, a.ID)); len(ds) != 1 || ds[0].VerifiedAt != nil {
			t.Errorf("A's domains: %+v", ds)
		}
		if list, _, _ := s.ListJoinRequests(bg, a.ID, directory.Page{}); len(list) != 1 || list[0].State != directory.JoinPending {
			t.Errorf("A's join requests: %+v", list)
		}
		if ms, _, _ := s.ListMembers(bg, b.ID, directory.Page{}); len(ms) != 1 {
			t.Errorf("B's members: %+v", ms)
		}
	})
}

func testPrincipalAccess(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("principal access states the org, the membership and the workspaces, and follows changes", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		admin := newMember(t, s, o.ID, access.RoleAdmin)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		w := must[directory.Workspace](t)(s.CreateWorkspace(bg, u.ID, o.ID, "pa-"+tok(), u.ID))
		pa := must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, o.ID, u.ID))
		if pa.Org.ID != o.ID || pa.Member.Role != access.RolePlatformMember || pa.DefaultWorkspace.ID != def.ID ||
			len(pa.Workspaces) != 1 || pa.Workspaces[0].WorkspaceID != w.ID || pa.Workspaces[0].Role != access.WorkspaceOwner {
			t.Fatalf("access = %+v", pa)
		}
		must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, o.ID, u.ID)) // warm any cache
		must[directory.Member](t)(s.SetMemberRole(bg, admin.ID, o.ID, u.ID, access.RoleViewOnly, 0))
		if pa := must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, o.ID, u.ID)); pa.Member.Role != access.RoleViewOnly {
			t.Fatalf("role after change = %s", pa.Member.Role)
		}
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, admin.ID, o.ID, def.ID, u.ID, access.Membership{Role: access.WorkspaceMember}))
		if pa := must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, o.ID, u.ID)); len(pa.Workspaces) != 2 {
			t.Fatalf("workspaces after a put = %+v", pa.Workspaces)
		}
		noErr(t, s.SetDefaultWorkspace(bg, admin.ID, o.ID, w.ID))
		must[directory.Organization](t)(s.UpdateOrg(bg, admin.ID, o.ID, directory.OrgUpdate{OnlyAdminsCanInvite: ptr(true)}))
		pa = must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, o.ID, u.ID))
		if pa.DefaultWorkspace.ID != w.ID || !pa.Org.Settings.OnlyAdminsCanInvite {
			t.Fatalf("after org changes: %+v", pa)
		}
		noErr(t, s.RemoveMember(bg, admin.ID, o.ID, u.ID))
		_, err := s.PrincipalAccess(bg, o.ID, u.ID)
		wantNotFound(t, err, u.ID)
		_, err = s.PrincipalAccess(bg, o.Name, admin.ID)
		wantNotFound(t, err, "")
		_, err = s.PrincipalAccess(bg, "org_nope", admin.ID)
		wantNotFound(t, err, "org_nope")
	})
}
