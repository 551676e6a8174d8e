package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens"
)

// manyOrgEnv is an OpenID provider on PostgreSQL and Redis whose directory
// holds orgs seeded organizations and one user who is a member of all of
// them, signed in through the first org's connection with an access token
// of the public client.
type manyOrgEnv struct {
	*oidcEnv
	seed   directory.SeedResult
	access string
	// sa and key are a service account of the env's org and its API key.
	sa, key string
}

func newManyOrgEnv(tb testing.TB, orgs int) *manyOrgEnv {
	tb.Helper()
	ctx := context.Background()
	store := directorytest.Postgres(tb)
	seed, err := store.SeedTenants(ctx, directory.SeedSpec{Orgs: orgs, UsersPerOrg: 2, WorkspacesPerOrg: 2, ManyOrgUserOrgs: orgs,
		Prefix: "x" + randomSuffix()[:6]})
	if err != nil {
		tb.Fatal(err)
	}
	e := &manyOrgEnv{oidcEnv: newOIDCEnv(tb, store, redisSessions(tb)), seed: seed}
	e.setSignIn(func(id *identity) {
		*id = identity{userID: seed.ManyOrgUser, orgID: seed.Orgs[0].ID, connID: seed.Orgs[0].ConnectionID, amr: []string{"oidc"}}
	})
	r := e.codeFlow(e.browser(), nil)
	e.access = r.str("access_token")
	sa, err := store.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: e.org.ID, Name: "bench-" + randomSuffix(), Role: access.RolePlatformMember})
	if err != nil {
		tb.Fatal(err)
	}
	if _, e.key, err = store.CreateAPIKey(ctx, "system:test", e.org.ID, sa.ID); err != nil {
		tb.Fatal(err)
	}
	e.sa = sa.ID
	return e
}

// BenchmarkTokenExchange measures the org switch of a user who is a member
// of 1,000 organizations (token exchange, access-token subject, a
// different target org each time) beside client_credentials, in one run on
// PostgreSQL and Redis, through the token handler without the network.
// Run it A B A B and compare within the run:
//
//	./.ci/test -run '^$' -bench 'BenchmarkTokenExchange' -benchtime 2000x -count 2 ./tokens/oauth/
//
// "exchange-cold" drops the directory's cache before each request (a
// committed change does that, here and in every replica), so every
// exchange reads membership from PostgreSQL.
func BenchmarkTokenExchange(b *testing.B) {
	e := newManyOrgEnv(b, 1000)
	h := func() http.Handler {
		mux := http.NewServeMux()
		srv, err := NewServer(e.keys, e.issuer, tokens.Features{ClientCredentials: true, AuthorizationCode: true, RefreshToken: true,
			TokenExchange: true}, WithProvider(e.provider))
		if err != nil {
			b.Fatal(err)
		}
		srv.Routes(mux)
		return mux
	}()
	post := func(body, user, pass string) {
		r := httptest.NewRequest(http.MethodPost, tokens.PathToken, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	exchangeBody := func(i int) string {
		return url.Values{"grant_type": {tokens.GrantTokenExchange}, "client_id": {e.public.ID}, "subject_token": {e.access},
			"subject_token_type": {tokens.TokenTypeAccessToken}, "organization": {e.seed.Orgs[i%len(e.seed.Orgs)].ID}}.Encode()
	}
	// Warm every org's standing once.
	for i := range e.seed.Orgs {
		post(exchangeBody(i), "", "")
	}
	ctx := context.Background()
	run := func(name string, cold bool, op func(i int)) {
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if cold {
					b.StopTimer()
					// Any committed change drops the whole lookup cache.
					if _, err := e.store.UpdateOrg(ctx, "system:bench", e.org.ID, directory.OrgUpdate{}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				t0 := time.Now()
				op(i)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
	cc := "grant_type=client_credentials"
	run("client_credentials", false, func(int) { post(cc, e.sa, e.key) })
	run("exchange-1000-orgs", false, func(i int) { post(exchangeBody(i), "", "") })
	run("exchange-1000-orgs-cold", true, func(i int) { post(exchangeBody(i), "", "") })
}
