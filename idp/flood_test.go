package idp_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/oauth"
)

// This file is the state-flood load test (docs/security.md, "Abuse
// resistance: sign-in state"): one source floods the unauthenticated
// sign-in entry points while a browser from another source signs in, with
// the real tokens and idp handlers over real stores. The test imports
// tokens (only here: idp itself never does) to wire both halves as
// cmd/ssobroker does.

const (
	// floodRequests is how many unauthenticated requests one source sends,
	// per session store.
	floodRequests = 200_000
	floodWorkers  = 12
	// legitPace spaces the legitimate browser's sign-ins.
	legitPace = 500 * time.Millisecond
	// recordsPerSignIn bounds what one legitimate sign-in writes to the
	// session store (session, spent login state, spent authorization,
	// code, redeemed-code record, SAML assertion id, refresh family).
	recordsPerSignIn = 10
	// maxRedisFloodBytes bounds the Redis memory the test's keys may hold
	// besides redisBytesPerSignIn for each legitimate sign-in (its session,
	// spent states, code records and refresh family: about 2.5 KB).
	maxRedisFloodBytes  = 1 << 20
	redisBytesPerSignIn = 4 << 10
	// maxUsedMemoryGrowth bounds Redis's used_memory growth over the run;
	// it is instance-wide (other packages' tests may run on the same
	// Redis), hence looser than maxRedisFloodBytes. Storing one record per
	// flood request, as before, grows it by about 100 MB.
	maxUsedMemoryGrowth = 16 << 20
	// maxHeapGrowth bounds the live heap growth of this process (server
	// and clients) after a GC.
	maxHeapGrowth = 32 << 20
)

// countingStore counts the records written to the session store.
type countingStore struct {
	session.Store
	writes atomic.Int64
}

func (c *countingStore) CreateSession(ctx context.Context, s session.Session) (session.Session, error) {
	out, err := c.Store.CreateSession(ctx, s)
	if err == nil {
		c.writes.Add(1)
	}
	return out, err
}

func (c *countingStore) PutOnce(ctx context.Context, kind session.Kind, key string, value []byte, ttl time.Duration) error {
	err := c.Store.PutOnce(ctx, kind, key, value, ttl)
	if err == nil {
		c.writes.Add(1)
	}
	return err
}

func (c *countingStore) Remember(ctx context.Context, kind session.Kind, key string, ttl time.Duration) (bool, error) {
	first, err := c.Store.Remember(ctx, kind, key, ttl)
	if first {
		c.writes.Add(1)
	}
	return first, err
}

func (c *countingStore) CreateRefresh(ctx context.Context, f session.RefreshFamily) (string, error) {
	tok, err := c.Store.CreateRefresh(ctx, f)
	if err == nil {
		c.writes.Add(1)
	}
	return tok, err
}

// floodWorld is a broker with both halves (tokens' OpenID provider and idp's
// sign-in), an org on oidc-provider and an org on a SAML IdP, and a public
// client.
type floodWorld struct {
	*world
	store             *countingStore
	oidcOrg, samlOrg  directory.Organization
	oidcDomain        string
	samlConn          directory.Connection
	samlDomain        string
	ip                *samltest.IdP
	client            directory.Client
	redirectURI       string
	logLines          atomic.Int64
	redisPrefix       string
	redisClient       *redis.Client
	legitOK, legitAll atomic.Int64
}

// countWriter counts log lines (the broker logs at warning and above here).
type countWriter struct{ n *atomic.Int64 }

func (c countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(strings.Count(string(p), "\n")))
	return len(p), nil
}

func newFloodWorld(t *testing.T, redisStore bool) *floodWorld {
	t.Helper()
	ctx := context.Background()
	dir := directorytest.SQLite(t)
	fw := &floodWorld{redirectURI: "http://127.0.0.1:1/spa/callback"}
	var base session.Store
	if redisStore {
		fw.redisPrefix = sessiontest.RandomPrefix()
		base = sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{KeyPrefix: fw.redisPrefix})
		opt, err := redis.ParseURL(sessiontest.RedisURL())
		if err != nil {
			t.Fatal(err)
		}
		fw.redisClient = redis.NewClient(opt)
		t.Cleanup(func() { _ = fw.redisClient.Close() })
	} else {
		m := session.NewMemory(session.Options{}) // the default bounds: 100 000 records
		t.Cleanup(func() { _ = m.Close() })
		base = m
	}
	fw.store = &countingStore{Store: base}

	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	logger := slog.New(slog.NewTextHandler(countWriter{&fw.logLines}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	sealKey := func() []byte {
		k := make([]byte, session.SealKeySize)
		_, _ = rand.Read(k)
		return k
	}
	keys, err := tokens.NewKeyring(dir, box, tokens.KeyConfig{Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	if err := keys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	issuer, err := tokens.NewIssuer(keys, dir, tokens.IssuerConfig{Issuer: srv.URL, Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := tokens.NewProvider(issuer, dir, fw.store, tokens.ProviderConfig{Log: logger, SealKey: sealKey()})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := oauth.NewServer(keys, issuer, tokens.Features{AuthorizationCode: true, RefreshToken: true, UserInfo: true, EndSession: true},
		oauth.WithProvider(provider))
	if err != nil {
		t.Fatal(err)
	}
	ts.Routes(mux)
	svc, err := idp.New(idp.Options{
		Issuer: srv.URL, Directory: dir, Sessions: fw.store, Secrets: box,
		Connectors: idp.Registry{directory.ConnectionOIDC: oidc.New, directory.ConnectionSAML: saml.New},
		HTTPClient: idp.NewUpstreamClient(true), Logger: logger, SealKey: sealKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	svc.Routes(mux)
	fw.world = &world{t: t, dir: dir, sessions: fw.store, box: box, svc: svc, srv: srv, logs: &syncBuffer{}}

	fw.oidcDomain = "flood-oidc-" + rnd() + ".test"
	fw.oidcOrg = fw.org("Flood OIDC "+rnd(), directory.JITAuto, fw.oidcDomain)
	pc := fw.conn(fw.oidcOrg.ID, "Corp OIDC")
	up := startUpstream(t, fw.callbacks(pc), true)
	fw.configure(pc, up)

	fw.samlDomain = "flood-saml-" + rnd() + ".test"
	fw.samlOrg = fw.org("Flood SAML "+rnd(), directory.JITAuto, fw.samlDomain)
	fw.ip = samltest.NewIdP(t, "https://idp.example.test/saml")
	fw.samlConn = fw.world.samlConn(fw.samlOrg.ID, fw.ip, nil, nil)

	fw.client, _, err = dir.CreateClient(ctx, actor, directory.NewClient{Name: "spa-" + rnd(), RedirectURIs: []string{fw.redirectURI}, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func pkcePair() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	d := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(d[:])
}

func (fw *floodWorld) authorizeURL(orgID, challenge, state string) string {
	return fw.url("/oauth2/authorize?" + url.Values{
		"client_id": {fw.client.ID}, "redirect_uri": {fw.redirectURI}, "response_type": {"code"}, "scope": {"openid email"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {state}, "organization": {orgID},
	}.Encode())
}

// legitSignIn runs one whole sign-in of a new browser (from 127.0.0.1)
// through the client's authorization request, the upstream IdP and the
// token endpoint. It returns why it failed, or "".
func (fw *floodWorld) legitSignIn(n int, viaSAML bool) (problem string) {
	t := fw.t
	b := newBrowser(t)
	verifier, challenge := pkcePair()
	state := "legit-" + strconv.Itoa(n)
	org := fw.oidcOrg
	if viaSAML {
		org = fw.samlOrg
	}
	p := b.get(fw.authorizeURL(org.ID, challenge, state))
	if p.status != http.StatusFound || p.location() == nil || p.location().Path != idp.LoginPath {
		return fmt.Sprintf("authorize answered %d %v", p.status, p.location())
	}
	p = b.get(p.location().String())
	var cb page
	if viaSAML {
		loc := p.location()
		if p.status != http.StatusSeeOther || loc == nil || loc.Host != "idp.example.test" {
			return fmt.Sprintf("SAML start answered %d %v: %.300s", p.status, loc, p.body)
		}
		id := samlRequestID(t, loc)
		email := fmt.Sprintf("user%d@%s", n, fw.samlDomain)
		doc := fw.ip.Response(t, samltest.Params{SPEntityID: fw.svc.EntityID(fw.samlConn), ACSURL: fw.svc.CallbackURL(fw.samlConn),
			InResponseTo: id, NameID: email, Attributes: map[string][]string{"email": {email}, "displayName": {"User"}}}, samltest.Options{})
		cb = b.post(fw.svc.CallbackURL(fw.samlConn), samltest.Form(doc, loc.Query().Get("RelayState")))
	} else {
		if p.status != http.StatusSeeOther {
			return fmt.Sprintf("OIDC start answered %d: %.300s", p.status, p.body)
		}
		a := account{id: "legit-" + strconv.Itoa(n), email: fmt.Sprintf("user%d@%s", n, fw.oidcDomain), name: "User"}
		cb = b.get(fw.flow(b, p, a, nil).String())
	}
	if cb.status != http.StatusSeeOther || cb.location() == nil || cb.location().Path != idp.ContinuePath {
		return fmt.Sprintf("callback answered %d %v: %.300s", cb.status, cb.location(), cb.body)
	}
	p = b.get(cb.location().String())
	loc := p.location()
	if p.status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != state {
		return fmt.Sprintf("continuation answered %d %v: %.300s", p.status, loc, p.body)
	}
	tok := b.post(fw.url("/oauth2/token"), url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {fw.redirectURI}, "client_id": {fw.client.ID}, "code_verifier": {verifier}})
	var body struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if tok.status != http.StatusOK || json.Unmarshal([]byte(tok.body), &body) != nil || body.AccessToken == "" || body.IDToken == "" {
		return fmt.Sprintf("token endpoint answered %d: %.300s", tok.status, tok.body)
	}
	return ""
}

func samlRequestID(t testing.TB, loc *url.URL) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	xml := inflate(t, raw)
	i := strings.Index(xml, ` ID="`)
	if i < 0 {
		t.Fatalf("no ID in the AuthnRequest: %.200s", xml)
	}
	rest := xml[i+5:]
	return rest[:strings.IndexByte(rest, '"')]
}

// flooder sends requests from 127.0.0.2, never following redirects and
// keeping no cookies: a script, not a browser.
func flooder() *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: floodWorkers, MaxConnsPerHost: floodWorkers},
		Timeout:   20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// redisBytes returns how many keys under the world's prefix exist and
// their MEMORY USAGE, and the server's used_memory.
func (fw *floodWorld) redisBytes(ctx context.Context) (keys int, bytes int64, used int64) {
	t := fw.t
	iter := fw.redisClient.Scan(ctx, 0, fw.redisPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys++
		n, err := fw.redisClient.MemoryUsage(ctx, iter.Val()).Result()
		if err == nil {
			bytes += n
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	info, err := fw.redisClient.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return keys, bytes, used
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestStateFloodDoesNotStopSignIns: 200 000 unauthenticated requests from
// one source — GET /oauth2/authorize with a public client, GET /login/{org}
// on an OIDC and on a SAML connection — while a browser from another source
// completes sign-ins through oidc-provider and a SAML IdP and exchanges its
// codes. Every legitimate sign-in succeeds; the session store gains no
// record from the flood (at most recordsPerSignIn per legitimate sign-in);
// on Redis the test's keys stay under 1 MiB; the process heap stays
// bounded; SAML starts past the source's budget get 429. Before sign-in
// state was sealed into the browser, every flood request stored a
// 10-minute record: the in-process store filled its 100 000-record cap
// and refused every sign-in, and Redis grew by about 100 MB.
func TestStateFloodDoesNotStopSignIns(t *testing.T) {
	requireUpstreamPeer(t)
	for _, tc := range []struct {
		name  string
		redis bool
	}{{"memory", false}, {"redis", true}} {
		t.Run(tc.name, func(t *testing.T) {
			fw := newFloodWorld(t, tc.redis)
			ctx := context.Background()
			// Warm up: connectors built, JWKS fetched, first users made.
			for i, viaSAML := range []bool{false, true} {
				if problem := fw.legitSignIn(-1-i, viaSAML); problem != "" {
					t.Fatalf("warm-up sign-in: %s", problem)
				}
			}
			heapBefore := liveHeap()
			writesBefore := fw.store.writes.Load()
			var keysBefore, usedBefore int64
			if tc.redis {
				k, _, u := fw.redisBytes(ctx)
				keysBefore, usedBefore = int64(k), u
			}

			_, challenge := pkcePair()
			targets := []string{
				fw.authorizeURL("", challenge, "flood-state-"+strings.Repeat("x", 40)),
				fw.url("/login/" + fw.oidcOrg.ID),
				fw.url("/login/" + fw.samlOrg.ID),
			}
			var sent atomic.Int64
			var statusMu sync.Mutex
			statuses := map[string]map[int]int{}
			client := flooder()
			defer client.CloseIdleConnections()
			done := make(chan struct{})
			var wg sync.WaitGroup
			start := time.Now()
			for range floodWorkers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := map[string]map[int]int{}
					for {
						n := sent.Add(1)
						if n > floodRequests {
							break
						}
						target := targets[n%int64(len(targets))]
						resp, err := client.Get(target)
						if err != nil {
							t.Errorf("flood request: %v", err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						kind := []string{"authorize", "login-oidc", "login-saml"}[n%int64(len(targets))]
						if local[kind] == nil {
							local[kind] = map[int]int{}
						}
						local[kind][resp.StatusCode]++
					}
					statusMu.Lock()
					for k, m := range local {
						if statuses[k] == nil {
							statuses[k] = map[int]int{}
						}
						for s, c := range m {
							statuses[k][s] += c
						}
					}
					statusMu.Unlock()
				}()
			}
			go func() { wg.Wait(); close(done) }()

			// The legitimate browser signs in again and again while the flood runs.
			var problems []string
			legit := 0
		loop:
			for {
				select {
				case <-done:
					break loop
				default:
				}
				// A person's pace: a sign-in every half second, every sixth
				// through SAML.
				next := time.Now().Add(legitPace)
				if problem := fw.legitSignIn(legit, legit%6 == 5); problem != "" {
					problems = append(problems, problem)
				}
				legit++
				select {
				case <-done:
				case <-time.After(time.Until(next)):
				}
			}
			elapsed := time.Since(start)
			if t.Failed() {
				return
			}

			writes := fw.store.writes.Load() - writesBefore
			heapAfter := liveHeap()
			growth := int64(heapAfter) - int64(heapBefore)
			t.Logf("%d flood requests from 127.0.0.2 in %v: %.0f requests/s; answers %v", floodRequests, elapsed.Round(time.Millisecond),
				float64(floodRequests)/elapsed.Seconds(), statuses)
			t.Logf("legitimate sign-ins from 127.0.0.1 meanwhile: %d of %d succeeded (%.1f%%)", legit-len(problems), legit,
				100*float64(legit-len(problems))/float64(max(legit, 1)))
			t.Logf("session-store records written during the flood: %d (≤ %d per legitimate sign-in allowed); live heap %d → %d bytes (%+d); broker warnings logged: %d",
				writes, recordsPerSignIn, heapBefore, heapAfter, growth, fw.logLines.Load())
			if tc.redis {
				keys, bytes, used := fw.redisBytes(ctx)
				t.Logf("Redis: %d → %d keys under the test's prefix, %d bytes (MEMORY USAGE); used_memory %d → %d (%+d, instance-wide)",
					keysBefore, keys, bytes, usedBefore, used, used-usedBefore)
				if limit := int64(maxRedisFloodBytes + legit*redisBytesPerSignIn); bytes > limit {
					t.Errorf("Redis holds %d bytes under the test's prefix, more than %d (1 MiB + %d legitimate sign-ins)", bytes, limit, legit)
				}
				if used-usedBefore > maxUsedMemoryGrowth {
					t.Errorf("Redis used_memory grew by %d bytes, more than %d", used-usedBefore, maxUsedMemoryGrowth)
				}
			}
			if len(problems) > 0 {
				t.Errorf("%d of %d legitimate sign-ins failed during the flood; first: %s", len(problems), legit, problems[0])
			}
			if legit < 2 {
				t.Errorf("only %d legitimate sign-ins ran during the flood", legit)
			}
			if writes > int64(recordsPerSignIn*legit) {
				t.Errorf("the session store gained %d records during the flood, more than %d for %d legitimate sign-ins: the flood costs server state",
					writes, recordsPerSignIn*legit, legit)
			}
			if growth > maxHeapGrowth {
				t.Errorf("live heap grew by %d bytes, more than %d", growth, maxHeapGrowth)
			}
			for kind, want := range map[string]int{"authorize": http.StatusFound, "login-oidc": http.StatusSeeOther} {
				if statuses[kind][want] != floodRequests/3 && statuses[kind][want] != floodRequests/3+1 {
					t.Errorf("%s: %v, want every answer %d (the flood is served, it just costs nothing)", kind, statuses[kind], want)
				}
			}
			// The SAML starts: the source's burst is signed, the rest is 429.
			maxSigned := idp.DefaultSAMLStartBurst + int(elapsed.Minutes()*idp.DefaultSAMLStartsPerMinute) + 1
			if saml := statuses["login-saml"]; saml[http.StatusTooManyRequests] == 0 || saml[http.StatusSeeOther] > maxSigned {
				t.Errorf("login-saml: %v, want 429 past the per-source budget", saml)
			}
		})
	}
}

func inflate(t testing.TB, raw []byte) string {
	t.Helper()
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
