// Command oidcserver runs the token service's OpenID provider alone for load
// tests of the refresh grant (bench/refresh-load.sh). Refresh tokens come
// from real browser sign-ins, which need an upstream IdP; here a stand-in
// for package idp's /login (the hand-off contract: create the session, set
// the cookie, redirect to /oauth2/authorize/continue) signs in one user, so
// the load test measures the broker alone.
//
// It opens a directory store (a fresh PostgreSQL schema, or SQLite) and a
// session store (Redis under a random key prefix, or in process), creates an
// org, a user with a workspace, an OIDC connection and a public client,
// serves the tokens routes, runs -families sign-ins against itself over
// HTTP (authorize with PKCE → stand-in sign-in → continue → code exchange),
// and writes one refresh token per line to -tokens-file and shell
// assignments (SSB_URL, SSB_CLIENT_ID) to -ready-file.
//
// With -register (and -families 0) it is the upstream IdP of bench/report's
// browser logins: POST /bench/clients registers the broker's callback URL as
// a confidential client, and -issuer http://localhost:PORT keeps its cookies
// apart from a broker on 127.0.0.1.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/oauth"
)

const redirectURI = "http://127.0.0.1:9/callback"

func main() {
	addr := flag.String("addr", "127.0.0.1:18083", "listen address")
	dbURL := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server (a fresh schema is created and dropped); empty: SQLite in a temporary directory")
	redisURL := flag.String("redis-url", "redis://127.0.0.1:6379/0", "Redis (a random key prefix, deleted keys expire); empty: in-process sessions")
	idAlg := flag.String("id-token-alg", "RS256", "ID token algorithm: RS256 (own key lane) or ES256 (the access-token key)")
	scope := flag.String("scope", "openid email offline_access", "scope of the sign-ins (openid: an ID token at every refresh)")
	families := flag.Int("families", 64, "number of refresh-token families to create")
	tokensFile := flag.String("tokens-file", "", "file to write one refresh token per line to")
	ready := flag.String("ready-file", "", "file to write SSB_URL and SSB_CLIENT_ID to once the tokens are written")
	public := flag.String("issuer", "", "public base URL (default http://ADDR); e.g. http://localhost:PORT keeps its cookies apart from a broker on 127.0.0.1")
	register := flag.Bool("register", false, "serve POST /bench/clients (form redirect_uri=…): registers a confidential client and answers its id and secret, so that a broker can use this server as its upstream IdP (bench/report)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(*addr, *public, *register, *dbURL, *redisURL, tokens.Algorithm(*idAlg), *scope, *families, *tokensFile, *ready, log); err != nil {
		fmt.Fprintln(os.Stderr, "oidcserver:", err)
		os.Exit(1)
	}
}

func run(addr, public string, register bool, dbURL, redisURL string, idAlg tokens.Algorithm, scope string, families int, tokensFile, readyFile string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, cleanup, err := openStore(ctx, dbURL, log)
	if err != nil {
		return err
	}
	defer cleanup()
	sessions, err := openSessions(ctx, redisURL)
	if err != nil {
		return err
	}
	defer sessions.Close()

	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}
	keys, err := tokens.NewKeyring(store, box, tokens.KeyConfig{IDTokenAlgorithm: idAlg, Log: log})
	if err != nil {
		return err
	}
	defer keys.Close()
	if err := keys.Start(ctx); err != nil {
		return err
	}
	go func() { _ = keys.Run(ctx) }()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	if public != "" {
		base = strings.TrimSuffix(public, "/")
	}
	issuer, err := tokens.NewIssuer(keys, store, tokens.IssuerConfig{Issuer: base, Log: log})
	if err != nil {
		return err
	}
	provider, err := tokens.NewProvider(issuer, store, sessions, tokens.ProviderConfig{})
	if err != nil {
		return err
	}
	srv, err := oauth.NewServer(keys, issuer, tokens.Features{AuthorizationCode: true, RefreshToken: true, UserInfo: true, EndSession: true},
		oauth.WithProvider(provider))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	srv.Routes(mux)

	org, ws, err := store.CreateOrg(ctx, "system:bench", directory.NewOrg{Name: "Bench " + suffix()})
	if err != nil {
		return err
	}
	conn, err := store.CreateConnection(ctx, "system:bench", directory.Connection{OrgID: org.ID, Type: directory.ConnectionOIDC, Name: "corp", Enabled: true})
	if err != nil {
		return err
	}
	user, err := store.CreateUser(ctx, "system:bench", directory.NewUser{Email: "load-" + suffix() + "@bench.example", EmailVerified: true, Name: "Load"})
	if err != nil {
		return err
	}
	if _, err := store.AddMember(ctx, "system:bench", org.ID, user.ID, access.RolePlatformMember); err != nil {
		return err
	}
	if _, err := store.PutWorkspaceMember(ctx, "system:bench", org.ID, ws.ID, user.ID, access.Membership{Role: access.WorkspaceMember}); err != nil {
		return err
	}
	client, _, err := store.CreateClient(ctx, "system:bench", directory.NewClient{Name: "bench", RedirectURIs: []string{redirectURI}, Public: true})
	if err != nil {
		return err
	}
	// The stand-in for package idp's sign-in.
	mux.HandleFunc("GET "+tokens.PathLogin, func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessions.CreateSession(r.Context(), session.Session{UserID: user.ID, OrgID: org.ID, ConnectionID: conn.ID, AMR: []string{"oidc"}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		http.SetCookie(w, session.Cookie(session.CookieName, sess.ID, false, 0))
		http.Redirect(w, r, tokens.PathAuthorizeContinue+"?authz="+url.QueryEscape(r.URL.Query().Get("authz")), http.StatusFound)
	})

	if register {
		// A broker's connection to this server as its upstream IdP: a
		// confidential client per broker callback URL (loopback bench only).
		mux.HandleFunc("POST /bench/clients", func(w http.ResponseWriter, r *http.Request) {
			c, secret, err := store.CreateClient(r.Context(), "system:bench", directory.NewClient{Name: "broker " + suffix(),
				RedirectURIs: formValues(r, "redirect_uri")})
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"client_id": c.ID, "client_secret": secret})
		})
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { <-ctx.Done(); _ = hs.Shutdown(context.Background()) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	var lines []string
	for range families {
		tok, err := signIn(ctx, base, client.ID, scope)
		if err != nil {
			return fmt.Errorf("sign-in: %w", err)
		}
		lines = append(lines, tok)
	}
	if tokensFile != "" {
		if err := os.WriteFile(tokensFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	if readyFile != "" {
		body := fmt.Sprintf("SSB_URL=%s\nSSB_CLIENT_ID=%s\nSSB_BACKEND=%q\nSSB_SESSIONS=%q\n", base, client.ID, store.Backend(), sessionsName(redisURL))
		if err := os.WriteFile(readyFile, []byte(body), 0o600); err != nil {
			return err
		}
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// signIn runs one browser sign-in with PKCE against the server and returns
// the refresh token.
func signIn(ctx context.Context, base, clientID, scope string) (string, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	vb := make([]byte, 32)
	_, _ = rand.Read(vb)
	verifier := base64.RawURLEncoding.EncodeToString(vb)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {scope},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+tokens.PathAuthorize+"?"+q.Encode(), nil)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI},
		"client_id": {clientID}, "code_verifier": {verifier}}
	resp, err = hc.PostForm(base+tokens.PathToken, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.RefreshToken == "" {
		return "", fmt.Errorf("no refresh token: %d %v", resp.StatusCode, err)
	}
	return out.RefreshToken, nil
}

func openSessions(ctx context.Context, redisURL string) (session.Store, error) {
	if redisURL == "" {
		return session.NewMemory(session.Options{}), nil
	}
	return session.NewRedis(ctx, redisURL, session.Options{KeyPrefix: "ssbbench:" + suffix() + ":"})
}

func sessionsName(redisURL string) string {
	if redisURL == "" {
		return "in-process"
	}
	return "redis"
}

func openStore(ctx context.Context, dbURL string, log *slog.Logger) (*directory.SQLStore, func(), error) {
	if dbURL == "" {
		dir, err := os.MkdirTemp("", "ssb-bench-")
		if err != nil {
			return nil, nil, err
		}
		s, err := directory.OpenSQLite(ctx, filepath.Join(dir, "directory.db"), log)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close(); _ = os.RemoveAll(dir) }, nil
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	schema := "ssb_bench_" + suffix()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return nil, nil, err
	}
	drop := func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return nil, nil, err
	}
	v := u.Query()
	v.Set("search_path", schema)
	u.RawQuery = v.Encode()
	s, err := directory.OpenPostgres(ctx, u.String(), log)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, func() { s.Close(); drop() }, nil
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// formValues is every value of the form field name (nil when the form does
// not parse).
func formValues(r *http.Request, name string) []string {
	if err := r.ParseForm(); err != nil {
		return nil
	}
	return r.PostForm[name]
}
