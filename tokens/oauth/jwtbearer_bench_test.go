package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// BenchmarkJWTBearerBesideClientCredentials runs, in one process and
// alternately (A B A B), the token handler for client_credentials and for
// jwt-bearer with an external ES256 JWT (warm key set, warm directory
// caches), and reports each one's p50 per request (docs/jwt-issuers.md):
//
//	./.ci/test -run '^$' -bench 'BenchmarkJWTBearerBesideClientCredentials' -benchtime 2000x -count 2 ./tokens/oauth/
func BenchmarkJWTBearerBesideClientCredentials(b *testing.B) {
	store := directorytest.SQLite(b)
	e := newEnv(b, store, withExternalJWTs(store))
	x := verifytest.NewJWKSServer(b)
	k := verifytest.NewKey(b, jwa.ES256, "k1")
	x.SetBody(verifytest.JWKS(b, k))
	e.trust(x, directory.JWTIssuer{Audience: "ssobroker-ci", ServiceAccountID: e.sa.ID})
	assertion := signJWT(b, k, e.claimsFor(x, "ssobroker-ci", "repo:acme/app", map[string]any{"exp": time.Now().Unix() + 3600}), nil)
	h := e.server.TokenHandler()
	cc := "grant_type=client_credentials"
	jb := jwtBearerForm(assertion).Encode()
	do := func(body string, basic bool) time.Duration {
		r := httptest.NewRequest(http.MethodPost, tokens.PathToken, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			r.SetBasicAuth(url.QueryEscape(e.sa.ID), url.QueryEscape(e.secret))
		}
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		return d
	}
	do(cc, true)
	do(jb, false) // warms the key set and the trust cache
	ccTimes := make([]time.Duration, 0, b.N)
	jbTimes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		ccTimes = append(ccTimes, do(cc, true))
		jbTimes = append(jbTimes, do(jb, false))
	}
	b.StopTimer()
	p50 := func(ts []time.Duration) time.Duration { slices.Sort(ts); return ts[len(ts)/2] }
	c, j := p50(ccTimes), p50(jbTimes)
	b.ReportMetric(float64(c.Microseconds()), "cc-p50-µs")
	b.ReportMetric(float64(j.Microseconds()), "jwtbearer-p50-µs")
	b.ReportMetric(float64(j)/float64(c), "p50-ratio")
}
