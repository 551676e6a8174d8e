// Command ssobroker runs the SSO identity broker and administers it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/ssobroker/ssobroker/directory"
)

const usage = `ssobroker — SSO identity broker and token service

Usage:
  ssobroker serve                 run the HTTP server
  ssobroker migrate               apply database migrations and exit
  ssobroker admin bootstrap --org NAME --email EMAIL
  ssobroker admin org list|create --name NAME
  ssobroker admin service-account create --org ORG --name N [--role ROLE] [--workspace WS[:owner|member]]...
  ssobroker admin client create --name N --redirect-uri U [--redirect-uri U2] [--public] [--admin-api]
  ssobroker keys rotate|list
  ssobroker version

Every command reads the same configuration (environment variables, flags
override); run "ssobroker serve -h" to list it. --json prints machine-readable output.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// exit codes
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "admin" || cmd == "keys") && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
		if len(rest) > 0 && (cmd == "admin org" || cmd == "admin service-account" || cmd == "admin client") {
			cmd, rest = cmd+" "+rest[0], rest[1:]
		}
	}
	h, ok := commands()[cmd]
	if !ok {
		fmt.Fprintf(stderr, "ssobroker: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	fs := flag.NewFlagSet("ssobroker "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bindConfig(fs, getenv)
	cmdRun := h(fs)
	if err := fs.Parse(rest); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ssobroker %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "ssobroker: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	env := &env{cfg: cfg, stdout: stdout, stderr: stderr, log: cfg.logger(stderr)}
	if err := cmdRun(ctx, env); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "ssobroker %s: %v\n", cmd, err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "ssobroker %s: %v\n", cmd, err)
		return exitFailed
	}
	return exitOK
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// env is what a command runs with.
type env struct {
	cfg    *config
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// command binds its own flags to fs and returns the function that runs it.
type command func(fs *flag.FlagSet) func(ctx context.Context, e *env) error

func commands() map[string]command {
	return map[string]command{
		"serve":                        serveCommand,
		"migrate":                      migrateCommand,
		"version":                      versionCommand,
		"admin bootstrap":              bootstrapCommand,
		"admin org list":               orgListCommand,
		"admin org create":             orgCreateCommand,
		"admin service-account create": serviceAccountCreateCommand,
		"admin client create":          clientCreateCommand,
		"keys rotate":                  keysRotateCommand,
		"keys list":                    keysListCommand,
	}
}

// openStore opens the configured directory: PostgreSQL when a URL is set,
// else the embedded SQLite file in the data dir.
func (e *env) openStore(ctx context.Context) (*directory.SQLStore, error) {
	if e.cfg.DatabaseURL != "" {
		return directory.OpenPostgres(ctx, e.cfg.DatabaseURL, e.log)
	}
	return directory.OpenSQLite(ctx, e.cfg.sqlitePath(), e.log)
}

// print writes v as JSON with --json, else the human text.
func (e *env) print(v any, human string) error {
	if e.cfg.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprint(e.stdout, human)
	return err
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func versionCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(_ context.Context, e *env) error {
		return e.print(map[string]string{"version": version()}, "ssobroker "+version()+"\n")
	}
}

func migrateCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		s, err := e.openStore(ctx) // opening applies pending migrations
		if err != nil {
			return err
		}
		defer s.Close()
		return e.print(map[string]string{"backend": s.Backend(), "status": "migrated"}, "migrations applied to "+s.Backend()+"\n")
	}
}
