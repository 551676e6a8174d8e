package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Dex is built from its current source outside this repository (never
// committed): -dex-src names a checkout or a bare git directory (e.g. the
// one `git clone --bare https://github.com/dexidp/dex` makes), -dex a binary
// built before. The binary is cached by commit in the user cache directory.
func buildDex(ctx context.Context, src, tmp string) (bin, version string, err error) {
	if src == "" {
		return "", "", fmt.Errorf("no Dex: give -dex BINARY or -dex-src DIR (a Dex checkout or bare git directory), or -no-dex")
	}
	gitDir := src
	if _, err := os.Stat(filepath.Join(src, ".git")); err == nil {
		gitDir = filepath.Join(src, ".git")
	}
	out, err := exec.CommandContext(ctx, "git", "--git-dir", gitDir, "log", "-1", "--format=%H %cs").Output()
	if err != nil {
		return "", "", fmt.Errorf("dex source %s: git log: %w", src, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return "", "", fmt.Errorf("dex source %s: git log said %q", src, out)
	}
	version = f[0][:12] + " (" + f[1] + ")"
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin = filepath.Join(cache, "ssobroker-bench", "dex-"+f[0][:12])
	if _, err := os.Stat(bin); err == nil {
		return bin, version, nil
	}
	dir := filepath.Join(tmp, "dex-src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	archive := exec.CommandContext(ctx, "sh", "-c", `git --git-dir "$1" archive --format=tar HEAD | tar -x -C "$2"`, "sh", gitDir, dir)
	if b, err := archive.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("dex source: %w: %s", err, b)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", "", err
	}
	fmt.Println("building Dex", version, "(first run only; minutes on 2 cores)")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin+".tmp", "./cmd/dex")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building Dex: %w: %s", err, b)
	}
	_ = os.RemoveAll(dir)
	return bin, version, os.Rename(bin+".tmp", bin)
}

// dexConfig is Dex's fastest setup: in-memory storage, the local signer
// with ES256, the client_credentials grant, and the password grant (only to
// obtain refresh tokens for the refresh runs, outside the timing).
func dexConfig(addr, clientID, secret string) string {
	return `issuer: http://` + addr + `/dex
storage:
  type: memory
web:
  http: ` + addr + `
logger:
  level: warn
  format: json
signer:
  type: local
  config:
    keysRotationPeriod: "6h"
    algorithm: "ES256"
oauth2:
  skipApprovalScreen: true
  passwordConnector: local
  grantTypes: [client_credentials, password, refresh_token]
enablePasswordDB: true
staticClients:
  - id: ` + clientID + `
    name: bench
    secret: ` + secret + `
    redirectURIs: ["http://127.0.0.1/callback"]
staticPasswords:
  - email: bench@example.com
    # bcrypt (cost 10, the lowest Dex accepts) of "bench-password"
    hash: "$2a$10$3idh9JuqINt6aNQ92wfy3u6wTkOXZNCg1gDDLRkdvOVwZb4BAiM6q"
    username: bench
    userID: 7d9f1c52-0d4e-4b8f-9a53-2f3c6e1b8a10
`
}

type dexServer struct {
	p                *proc
	url              string // …/dex
	clientID, secret string
}

func startDex(ctx context.Context, e env, bin string) (*dexServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	d := &dexServer{url: "http://" + addr + "/dex", clientID: "bench", secret: "bench-secret-" + randHex(6)}
	cfg, err := writeTemp(e.tmp, "dex.yaml", []byte(dexConfig(addr, d.clientID, d.secret)))
	if err != nil {
		return nil, err
	}
	// The client_credentials grant is behind a feature flag in some Dex
	// versions; listing it in oauth2.grantTypes is enough in others.
	if d.p, err = startProc(ctx, e.tmp, "dex", []string{"DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT=true"}, bin, "serve", cfg); err != nil {
		return nil, err
	}
	if err := waitHTTP(d.p, d.url+"/.well-known/openid-configuration"); err != nil {
		d.p.stop()
		return nil, err
	}
	return d, nil
}

func (d *dexServer) basic() string {
	return basicAuth(d.clientID, d.secret)
}

func (d *dexServer) stop() {
	if d != nil {
		d.p.stop()
	}
}

// check sends one request and wants a 200: a load run of errors measures nothing.
func check(ctx context.Context, hc *http.Client, t Target) error {
	req, err := http.NewRequestWithContext(ctx, cmpOr(t.Method, http.MethodGet), t.URL, strings.NewReader(t.Body))
	if err != nil {
		return err
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b := make([]byte, 300)
		n, _ := resp.Body.Read(b)
		return fmt.Errorf("%s %s: %d %s", t.Method, t.URL, resp.StatusCode, b[:n])
	}
	return nil
}
