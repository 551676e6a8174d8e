// Command ssobroker runs the SSO identity broker and administers it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/ssobroker/ssobroker/directory"
)

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

// commandSpec is one command of the command line: its words, the synopsis
// of its own flags, one line saying what it does, the configuration flags it
// reads, and how it runs.
type commandSpec struct {
	path     string
	synopsis string
	summary  string
	flags    flagGroup
	// creates: the command may start a new embedded database (serve,
	// migrate, admin bootstrap); every other one refuses a data dir that
	// does not exist instead of silently making an empty one.
	creates bool
	run     command
}

const (
	// adminFlags are what an admin command reads: the store and --json.
	adminFlags = flagsStore | flagsJSON
	// linkFlags are those of admin commands that print links.
	linkFlags = adminFlags | flagsIssuer
)

// commandTable lists every command, in the order help shows them.
func commandTable() []commandSpec {
	return []commandSpec{
		{path: "serve", summary: "run the HTTP server", flags: flagsServer | flagsStore, creates: true, run: serveCommand},
		{path: "migrate", summary: "apply database migrations and exit", flags: flagsStore | flagsJSON, creates: true, run: migrateCommand},
		{path: "version", summary: "print the version", flags: flagsJSON, run: versionCommand},

		{path: "admin bootstrap", synopsis: "--org NAME --email EMAIL", summary: "create an org, its first workspace and its first admin, and print a one-time console sign-in link",
			flags: linkFlags, creates: true, run: bootstrapCommand},
		{path: "admin sign-in-link", synopsis: "--org ORG --email EMAIL [--ttl 15m]", summary: "print a one-time console sign-in link for a member (the break-glass way in)",
			flags: linkFlags, run: signInLinkCommand},

		{path: "admin org list", summary: "list organizations", flags: adminFlags, run: orgListCommand},
		{path: "admin org create", synopsis: "--name NAME [--plan PLAN] [--workspace WS]", summary: "create an organization and its default workspace", flags: adminFlags, run: orgCreateCommand},

		{path: "admin member list", synopsis: "--org ORG", summary: "list an org's members", flags: adminFlags, run: memberListCommand},
		{path: "admin member invite", synopsis: "--org ORG --email EMAIL [--role ROLE] [--workspace WS[:owner|member]]... [--expires-in 168h]",
			summary: "invite someone; prints the accept link and mails it when SMTP is configured", flags: linkFlags | flagsMail, run: memberInviteCommand},
		{path: "admin member remove", synopsis: "--org ORG (--user USER | --email EMAIL)", summary: "remove a member from an org", flags: adminFlags, run: memberRemoveCommand},

		{path: "admin invitation list", synopsis: "--org ORG", summary: "list an org's invitations with their accept links", flags: linkFlags, run: invitationListCommand},
		{path: "admin invitation revoke", synopsis: "--org ORG --id INV", summary: "revoke a pending invitation", flags: adminFlags, run: invitationRevokeCommand},

		{path: "admin workspace list", synopsis: "--org ORG", summary: "list an org's workspaces", flags: adminFlags, run: workspaceListCommand},
		{path: "admin workspace create", synopsis: "--org ORG --name NAME", summary: "create a workspace", flags: adminFlags, run: workspaceCreateCommand},

		{path: "admin service-account list", synopsis: "--org ORG", summary: "list an org's service accounts", flags: adminFlags, run: serviceAccountListCommand},
		{path: "admin service-account create", synopsis: "--org ORG --name N [--role ROLE] [--workspace WS[:owner|member]]...",
			summary: "create a service account and print its first API key once", flags: adminFlags, run: serviceAccountCreateCommand},

		{path: "admin key create", synopsis: "--org ORG --service-account SA", summary: "create an API key for a service account (printed once)", flags: adminFlags, run: keyCreateCommand},
		{path: "admin key revoke", synopsis: "--org ORG --key KEY", summary: "revoke an API key", flags: adminFlags, run: keyRevokeCommand},

		{path: "admin client create", synopsis: "--name N --redirect-uri U [--redirect-uri U2]... [--public] [--admin-api]",
			summary: "register an OAuth client (its secret is printed once)", flags: adminFlags, run: clientCreateCommand},

		{path: "admin jwt-issuer list", synopsis: "--org ORG", summary: "list an org's trusted JWT issuers", flags: adminFlags, run: jwtIssuerListCommand},
		{path: "admin jwt-issuer create", synopsis: "--org ORG --name N --iss URL --audience AUD (--service-account SA | --user-claim C [--user-match email|identity]) [--subject S] [--jwks-uri URL] [--role-claim C] [--max-role ROLE]",
			summary: "trust an external issuer's JWTs for jwt-bearer and token exchange (docs/jwt-issuers.md)", flags: adminFlags, run: jwtIssuerCreateCommand},
		{path: "admin jwt-issuer show", synopsis: "--org ORG --id JWI", summary: "a trusted JWT issuer and its recent refusals with reason codes", flags: adminFlags, run: jwtIssuerShowCommand},
		{path: "admin jwt-issuer delete", synopsis: "--org ORG --id JWI", summary: "stop trusting a JWT issuer", flags: adminFlags, run: jwtIssuerDeleteCommand},

		{path: "admin backchannel list", synopsis: "[--limit N]",
			summary: "back-channel logouts not delivered yet: pending, and failed ones kept 7 days (docs/logout.md)", flags: adminFlags, run: backchannelListCommand},

		{path: "admin domain mark-verified", synopsis: "--org ORG --domain D", summary: "operator override of a domain's DNS verification (audited)", flags: adminFlags, run: domainMarkVerifiedCommand},

		{path: "admin connection sp-key-rotate", synopsis: "--org ORG --connection CONN --step publish|activate|retire",
			summary: "one step of a SAML connection's SP key rotation (audited)", flags: adminFlags | flagsKeys, run: spKeyRotateCommand},

		{path: "keys rotate", summary: "publish the next signing key and activate the due one", flags: flagsStore | flagsKeys | flagsJSON, run: keysRotateCommand},
		{path: "keys list", summary: "list the signing keys", flags: flagsStore | flagsKeys | flagsJSON, run: keysListCommand},
	}
}

// groupSummaries say what each group of commands is for.
func groupSummaries() map[string]string {
	return map[string]string{
		"admin":                 "administer organizations, members, invitations, workspaces, service accounts and clients",
		"admin org":             "organizations",
		"admin member":          "an org's members",
		"admin invitation":      "an org's invitations",
		"admin workspace":       "an org's workspaces",
		"admin service-account": "an org's service accounts",
		"admin key":             "API keys of service accounts",
		"admin client":          "OAuth clients",
		"admin domain":          "an org's email domains",
		"admin connection":      "an org's SSO connections",
		"keys":                  "token signing keys",
	}
}

// findCommand reads the command's words off args: the spec when they name a
// command, else the longest group they name (prefix) and the rest.
func findCommand(args []string) (spec *commandSpec, prefix string, rest []string) {
	table := commandTable()
	words := []string{}
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		candidate := strings.Join(append(slices.Clone(words), a), " ")
		for j := range table {
			if table[j].path == candidate {
				return &table[j], candidate, args[i+1:]
			}
		}
		isGroup := false
		for _, c := range table {
			if strings.HasPrefix(c.path, candidate+" ") {
				isGroup = true
				break
			}
		}
		if !isGroup {
			return nil, strings.Join(words, " "), args[i:]
		}
		words = append(words, a)
	}
	return nil, strings.Join(words, " "), args[len(words):]
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		printGroupHelp(stderr, "")
		return exitUsage
	}
	if args[0] == "help" {
		spec, prefix, rest := findCommand(args[1:])
		switch {
		case spec != nil:
			printLeafHelp(stdout, *spec, newFlagSet(*spec, getenv, io.Discard))
		case len(rest) > 0:
			fmt.Fprintf(stderr, "ssobroker help: unknown command %q\n\n", strings.TrimSpace(prefix+" "+rest[0]))
			printGroupHelp(stderr, prefix)
			return exitUsage
		default:
			printGroupHelp(stdout, prefix)
		}
		return exitOK
	}
	spec, prefix, rest := findCommand(args)
	if spec == nil {
		if len(rest) > 0 && isHelp(rest[0]) {
			printGroupHelp(stdout, prefix)
			return exitOK
		}
		if len(rest) == 0 {
			fmt.Fprintf(stderr, "ssobroker %s: which command?\n\n", prefix)
		} else {
			fmt.Fprintf(stderr, "ssobroker: unknown command %q\n\n", strings.TrimSpace(prefix+" "+rest[0]))
		}
		printGroupHelp(stderr, prefix)
		return exitUsage
	}
	fs := newFlagSet(*spec, getenv, stderr)
	cfg, cmdRun := fs.cfg, fs.run
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printLeafHelp(stdout, *spec, fs)
			return exitOK
		}
		fmt.Fprintln(stderr)
		printLeafHelp(stderr, *spec, fs)
		return exitUsage
	}
	if fs.NArg() > 0 {
		if isHelp(fs.Arg(0)) {
			printLeafHelp(stdout, *spec, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "ssobroker %s: unexpected arguments %q\n\n", spec.path, fs.Args())
		printLeafHelp(stderr, *spec, fs)
		return exitUsage
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "ssobroker: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	env := &env{cfg: cfg, spec: *spec, stdout: stdout, stderr: stderr, log: cfg.logger(stderr)}
	if err := cmdRun(ctx, env); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "ssobroker %s: %v\n\n", spec.path, err)
			printLeafHelp(stderr, *spec, fs)
			return exitUsage
		}
		fmt.Fprintf(stderr, "ssobroker %s: %v\n", spec.path, err)
		return exitFailed
	}
	return exitOK
}

// commandFlags is a command's flag set with its configuration and runner.
type commandFlags struct {
	*flag.FlagSet
	cfg *config
	run func(ctx context.Context, e *env) error
}

func newFlagSet(spec commandSpec, getenv func(string) string, out io.Writer) commandFlags {
	fs := flag.NewFlagSet("ssobroker "+spec.path, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {} // run prints the help itself, to the right stream
	cfg := bindConfigFor(fs, getenv, spec.flags)
	return commandFlags{FlagSet: fs, cfg: cfg, run: spec.run(fs)}
}

const helpHeader = "ssobroker — SSO identity broker and token service\n\n"

// printGroupHelp lists the commands under prefix ("" for all), one line each.
func printGroupHelp(w io.Writer, prefix string) {
	if prefix == "" {
		fmt.Fprint(w, helpHeader)
	} else if s := groupSummaries()[prefix]; s != "" {
		fmt.Fprintf(w, "ssobroker %s — %s\n\n", prefix, s)
	}
	fmt.Fprintln(w, "Usage:")
	tw := tabwriter.NewWriter(w, 2, 4, 3, ' ', 0)
	for _, c := range commandTable() {
		if prefix != "" && !strings.HasPrefix(c.path, prefix+" ") {
			continue
		}
		fmt.Fprintf(tw, "  ssobroker %s\t%s\n", c.path, c.summary)
	}
	if prefix == "" {
		fmt.Fprintf(tw, "  ssobroker help [COMMAND]\tthis help, or a command's\n")
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nRun \"ssobroker COMMAND --help\" for the flags a command reads. Configuration comes from\n"+
		"SSOBROKER_* environment variables (docs/operations.md); a command's flags override them.\n")
}

// printLeafHelp shows one command: its synopsis, what it does, and only the
// flags it reads.
func printLeafHelp(w io.Writer, spec commandSpec, fs commandFlags) {
	fmt.Fprintf(w, "Usage: ssobroker %s", spec.path)
	if spec.synopsis != "" {
		fmt.Fprintf(w, " %s", spec.synopsis)
	}
	fmt.Fprintf(w, "\n\n%s.\n", strings.ToUpper(spec.summary[:1])+spec.summary[1:])
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	old := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(old)
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// env is what a command runs with.
type env struct {
	cfg    *config
	spec   commandSpec
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// tel is the tracing serve runs with (tracing.go); nil (off) for
	// every other command.
	tel *telemetry
}

// command binds its own flags to fs and returns the function that runs it.
type command func(fs *flag.FlagSet) func(ctx context.Context, e *env) error

// actor is the audit-log actor for changes made from the command line:
// "cli:" and the operator's OS user name.
func (e *env) actor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

// openStore opens the configured directory: PostgreSQL when a URL is set,
// else the embedded SQLite file in the data dir. It says on stderr which
// store it opened, refuses a data dir that does not exist (unless the
// command may start one), and refuses sealed data the configured secret key
// cannot open (config.checkSealed).
func (e *env) openStore(ctx context.Context) (*directory.SQLStore, error) {
	dir, err := filepath.Abs(e.cfg.DataDir)
	if err != nil {
		dir = e.cfg.DataDir
	}
	if e.cfg.DatabaseURL == "" && !e.spec.creates {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no ssobroker data in %s — run from the folder where serve runs, or set SSOBROKER_DATA_DIR", e.cfg.DataDir)
		}
	}
	var s *directory.SQLStore
	if e.cfg.DatabaseURL != "" {
		e.say("ssobroker: directory: PostgreSQL %s; data dir %s", redactedURL(e.cfg.DatabaseURL), dir)
		opts := e.cfg.postgresOptions()
		opts.TracerProvider = e.tel.storeProvider()
		s, err = directory.OpenPostgresWith(ctx, e.cfg.DatabaseURL, e.log, opts)
	} else {
		e.say("ssobroker: data dir %s (SQLite %s)", dir, filepath.Join(dir, "ssobroker.db"))
		s, err = directory.OpenSQLite(ctx, e.cfg.sqlitePath(), e.log)
	}
	if err != nil {
		return nil, err
	}
	if err := e.cfg.checkSealed(ctx, s); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// redactedURL hides a URL's password.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// say writes one line for the operator on stderr; serve logs instead.
func (e *env) say(format string, a ...any) {
	if e.spec.path == "serve" {
		return
	}
	fmt.Fprintf(e.stderr, format+"\n", a...)
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

// version is the module version the binary was built at (a release tag, or
// Go's pseudo-version of a commit after it), else "dev" with the commit the
// build stamped, when it did.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += ", modified"
	}
	return "dev (commit " + rev + ")"
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
