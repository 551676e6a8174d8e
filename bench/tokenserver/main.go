// Command tokenserver runs the token service alone for load tests
// (bench/token-load.sh): it opens a directory store — a fresh schema on
// PostgreSQL, or a SQLite file — creates an organization, a service account
// and an API key, and serves the tokens package's endpoints. The credentials
// are written to -ready-file as shell assignments once the server listens.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/tokens"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	dbURL := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server (a fresh schema is created and dropped); empty: SQLite in a temporary directory")
	alg := flag.String("alg", "ES256", "signing algorithm: ES256, EdDSA or RS256")
	ready := flag.String("ready-file", "", "file to write the credentials to once listening")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tokenserver:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(*addr, *dbURL, tokens.Algorithm(*alg), *ready, log); err != nil {
		fmt.Fprintln(os.Stderr, "tokenserver:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(addr, dbURL string, alg tokens.Algorithm, readyFile string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, cleanup, err := openStore(ctx, dbURL, log)
	if err != nil {
		return err
	}
	defer cleanup()

	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}
	keys, err := tokens.NewKeyring(store, box, tokens.KeyConfig{Algorithm: alg, Log: log})
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
	issuer, err := tokens.NewIssuer(keys, store, tokens.IssuerConfig{Issuer: "http://" + ln.Addr().String(), Log: log})
	if err != nil {
		return err
	}
	srv, err := tokens.NewServer(keys, issuer, tokens.Features{ClientCredentials: true, Introspection: true, Revocation: true})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	srv.Routes(mux)

	org, ws, err := store.CreateOrg(ctx, "system:bench", directory.NewOrg{Name: "Bench " + suffix()})
	if err != nil {
		return err
	}
	sa, err := store.CreateServiceAccount(ctx, "system:bench", directory.NewServiceAccount{OrgID: org.ID, Name: "load",
		Role: access.RolePlatformMember, Workspaces: []directory.InvitationWorkspace{{WorkspaceID: ws.ID, Role: access.WorkspaceMember}}})
	if err != nil {
		return err
	}
	_, secret, err := store.CreateAPIKey(ctx, "system:bench", org.ID, sa.ID)
	if err != nil {
		return err
	}

	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { <-ctx.Done(); _ = hs.Shutdown(context.Background()) }()
	if readyFile != "" {
		basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(sa.ID) + ":" + url.QueryEscape(secret)))
		body := fmt.Sprintf("SSB_URL=http://%s\nSSB_CLIENT_ID=%s\nSSB_BASIC=%s\nSSB_BACKEND=%q\n", ln.Addr(), sa.ID, basic, store.Backend())
		if err := os.WriteFile(readyFile, []byte(body), 0o600); err != nil {
			return err
		}
	}
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
		return nil, nil, err
	}
	schema := "ssb_bench_" + suffix()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, nil, err
	}
	drop := func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return nil, nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := directory.OpenPostgres(ctx, u.String(), log)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, func() { s.Close(); drop() }, nil
}

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
