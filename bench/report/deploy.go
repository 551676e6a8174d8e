package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// proc is a child process the report started; stop ends it by its own pid.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(ctx context.Context, dir, name string, env []string, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// waitHTTP waits until GET u answers 200, or the process exits, or 60 s pass.
func waitHTTP(p *proc, u string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited:\n%s", p.name, p.tail())
		default:
		}
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after 60 s:\n%s", p.name, u, p.tail())
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deployment is one broker directory (a fresh PostgreSQL schema seeded with
// Orgs orgs) served by two `ssobroker serve` replicas behind one issuer
// (replica A's address), sharing a Redis.
type deployment struct {
	Orgs       int
	schema     string
	store      *directory.SQLStore
	seed       directory.SeedResult
	target     directory.SeedOrg // org 0, the measured one
	a, b       *proc
	urlA, urlB string
	// adminKey is an admin service account's API key (org 0); tokenSA and
	// tokenKey a platform member service account that gets tokens.
	adminKey, tokenSA, tokenKey string
	seedTime                    time.Duration
	drop                        func()
}

// env is what every child needs to know.
type env struct {
	tmp, bin, dbURL, redisURL, secretKey string
}

func newSecretKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// openDeployment seeds a schema with orgs orgs and starts its two replicas.
func openDeployment(ctx context.Context, e env, orgs int, prefix string) (*deployment, error) {
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	d := &deployment{Orgs: orgs, schema: "ssb_report_" + randHex(4)}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+d.schema); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	d.drop = func() {
		d.a.stop()
		d.b.stop()
		if d.store != nil {
			d.store.Close()
		}
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+d.schema+" CASCADE")
		conn.Close(context.Background())
	}
	u, err := url.Parse(e.dbURL)
	if err != nil {
		d.drop()
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", d.schema)
	u.RawQuery = q.Encode()
	schemaURL := u.String()
	if d.store, err = directory.OpenPostgres(ctx, schemaURL, nil); err != nil {
		d.drop()
		return nil, err
	}
	t0 := time.Now()
	d.seed, err = d.store.SeedTenants(ctx, directory.SeedSpec{Orgs: orgs, ServiceAccountsPerOrg: 2, ManyOrgUserOrgs: max(orgs/10, 1), Prefix: prefix})
	if err != nil {
		d.drop()
		return nil, fmt.Errorf("seed %d orgs: %w", orgs, err)
	}
	d.seedTime = time.Since(t0)
	d.target = d.seed.Orgs[0]
	// Fixture set-up through the store (not measured): an admin service
	// account for the admin API, the other one in the default workspace
	// (so /opik/auth answers 200 for it).
	if _, err := d.store.SetMemberRole(ctx, "system:bench", d.target.ID, d.target.ServiceAccounts[0], access.RoleAdmin, 0); err != nil {
		d.drop()
		return nil, err
	}
	if _, err := d.store.PutWorkspaceMember(ctx, "system:bench", d.target.ID, d.target.Workspaces[0], d.target.ServiceAccounts[1],
		access.Membership{Role: access.WorkspaceMember}); err != nil {
		d.drop()
		return nil, err
	}
	d.adminKey, d.tokenSA, d.tokenKey = d.target.APIKeys[0], d.target.ServiceAccounts[1], d.target.APIKeys[1]

	pa, err := freePort()
	if err != nil {
		d.drop()
		return nil, err
	}
	pb, err := freePort()
	if err != nil {
		d.drop()
		return nil, err
	}
	d.urlA, d.urlB = "http://127.0.0.1:"+strconv.Itoa(pa), "http://127.0.0.1:"+strconv.Itoa(pb)
	base := []string{
		"SSOBROKER_ISSUER=" + d.urlA,
		"SSOBROKER_DATABASE_URL=" + schemaURL,
		"SSOBROKER_REDIS_URL=" + e.redisURL,
		"SSOBROKER_SECRET_KEY=" + e.secretKey,
		"SSOBROKER_ALLOW_PRIVATE_IDP=true",
		"SSOBROKER_LOG_FORMAT=json",
		"SSOBROKER_SIGNING_ALG=ES256",
		// Dex signs ID tokens with its one ES256 key: the same here.
		"SSOBROKER_ID_TOKEN_ALG=ES256",
	}
	name := fmt.Sprintf("serve-%dorgs", orgs)
	if d.a, err = startProc(ctx, e.tmp, name+"-a", append(base, "SSOBROKER_ADDR=127.0.0.1:"+strconv.Itoa(pa),
		"SSOBROKER_DATA_DIR="+filepath.Join(e.tmp, name+"-a")), e.bin, "serve"); err != nil {
		d.drop()
		return nil, err
	}
	if d.b, err = startProc(ctx, e.tmp, name+"-b", append(base, "SSOBROKER_ADDR=127.0.0.1:"+strconv.Itoa(pb),
		"SSOBROKER_DATA_DIR="+filepath.Join(e.tmp, name+"-b")), e.bin, "serve"); err != nil {
		d.drop()
		return nil, err
	}
	for _, r := range []struct {
		p *proc
		u string
	}{{d.a, d.urlA}, {d.b, d.urlB}} {
		if err := waitHTTP(r.p, r.u+"/readyz"); err != nil {
			d.drop()
			return nil, err
		}
	}
	return d, nil
}

func (d *deployment) close() {
	if d != nil && d.drop != nil {
		d.drop()
	}
}

// basic is the client_credentials Authorization header of the token principal.
func (d *deployment) basic() string { return basicAuth(d.tokenSA, d.tokenKey) }

// basicAuth is client_secret_basic (RFC 6749 §2.3.1: both parts form-encoded).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// api calls the admin API of replica base with the admin key; out, when
// non-nil, receives the JSON answer. A status other than want is an error.
func api(ctx context.Context, hc *http.Client, key, method, u string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// postForm posts form to u with an optional Authorization header and
// returns the status and body.
func postForm(ctx context.Context, hc *http.Client, u, auth string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// clientCredentials gets one access token for d's token principal.
func (d *deployment) clientCredentials(ctx context.Context, hc *http.Client) (string, error) {
	status, b, err := postForm(ctx, hc, d.urlA+"/oauth2/token", d.basic(), url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		return "", err
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("client_credentials: %d %s", status, b)
	}
	return out.AccessToken, nil
}

// startRedis runs a redis-server of the report's own on a free port (the
// shared one is other helpers' test fixture), or uses SSOBROKER_BENCH_REDIS_URL.
func startRedis(ctx context.Context, tmp string) (string, *proc, error) {
	if u := os.Getenv("SSOBROKER_BENCH_REDIS_URL"); u != "" {
		return u, nil, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server not found (or set SSOBROKER_BENCH_REDIS_URL)")
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	p, err := startProc(ctx, tmp, "redis", nil, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "redis://" + addr + "/0", p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return "", nil, fmt.Errorf("redis-server did not listen on %s", addr)
}
