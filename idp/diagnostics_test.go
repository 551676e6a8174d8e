package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// dirFailures keeps sign-in failures in the directory, as cmd wires it.
type dirFailures struct{ dir *directory.SQLStore }

func (d dirFailures) RecordSignInFailure(ctx context.Context, f idp.SignInFailure) {
	_, _ = d.dir.RecordConnectionFailure(ctx, directory.ConnectionFailure{OrgID: f.OrgID, ConnectionID: f.ConnectionID,
		Reason: f.Reason, Reference: f.Reference, At: f.At, DetailClass: f.Cause})
}

var refOnPage = regexp.MustCompile(`Reference for your administrator: ([0-9a-f]{12})`)

// A refused sign-in is kept in its connection's diagnostics with a stable
// reason code and the reference the user's page showed, and the page says
// whether availability or a policy stopped it.
func TestSignInFailuresAreKeptPerConnection(t *testing.T) {
	requireUpstreamPeer(t)
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			dir, sessions := st.open(t)
			w := newWorld(t, dir, sessions, nil)
			org := w.org("Diag "+rnd(), directory.JITInviteOnly, "diag-"+rnd()+".test")
			domains, err := dir.ListDomains(context.Background(), org.ID)
			if err != nil || len(domains) != 1 {
				t.Fatalf("domains %v %v", domains, err)
			}
			pc := w.conn(org.ID, "Diag SSO")
			up := startUpstream(t, w.callbacks(pc), false)
			c := w.configure(pc, up)

			r := rnd()
			a := account{id: "nina-" + r, email: "nina-" + r + "@" + domains[0].Domain, name: "Nina"}
			_, p := w.login(w.url("/login?authz=d1&login_hint="+url.QueryEscape(a.email)), a)
			wantStatus(t, p, http.StatusForbidden, "You have no invitation", "Cause: policy")
			m := refOnPage.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no reference on the page:\n%s", p.body)
			}
			// A wrong state at the callback: refused, kept as oidc.state.
			b := newBrowser(t)
			p = b.get(w.url("/sso/oidc/" + c.ID + "/callback?state=" + rnd() + "&code=x"))
			if p.status != http.StatusBadRequest {
				t.Fatalf("forged callback: status %d", p.status)
			}
			fs, err := dir.ListConnectionFailures(context.Background(), org.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) < 1 {
				t.Fatal("no failure kept")
			}
			var invite, state *directory.ConnectionFailure
			for i := range fs {
				switch fs[i].Reason {
				case "jit.invite_only":
					invite = &fs[i]
				case "oidc.state":
					state = &fs[i]
				}
			}
			if state == nil || state.DetailClass != idp.CauseResponse {
				t.Fatalf("failures %+v, want oidc.state", fs)
			}
			if invite == nil || invite.Reference != m[1] || invite.DetailClass != idp.CausePolicy || invite.OrgID != org.ID {
				t.Fatalf("failures %+v, want jit.invite_only with reference %s", fs, m[1])
			}
			// An unknown connection id keeps nothing anywhere.
			b.get(w.url("/sso/oidc/conn_doesnotexist/callback?state=x"))
			if fs2, _ := dir.ListConnectionFailures(context.Background(), org.ID, c.ID); len(fs2) != len(fs) {
				t.Fatalf("%d failures after a callback for another connection, want %d", len(fs2), len(fs))
			}
		})
	}
}
