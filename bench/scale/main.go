// Command scale measures tenant scale (issue 17, docs/bench/README.md): it
// seeds two fresh PostgreSQL schemas through the directory's bulk seeding
// (directory.SeedTenants: COPY), one with 1 org and one with -orgs orgs
// (10 users and 5 workspaces each, one service account with an API key, and
// one user in orgs/10 orgs), then times the same directory operations on an
// org of identical shape in both, and prints p50/p95/p99 and the ratio
// big/small of each:
//
//   - admin API reads and writes: list members, list workspaces, change a role;
//
//   - the sign-in callback's directory transaction (ProvisionLogin of an
//     existing member);
//
//   - the token endpoint's and /opik/auth's lookups cold (the lookup cache
//     emptied by a write before each, so the database is read): API key and
//     principal access;
//
//   - the org switch's store part (big schema only): the many-org user's
//     membership and access re-checked in a different org each time.
//
//     go run ./bench/scale                    # 10,000 orgs / 100,000 users / 50,000 workspaces
//     go run ./bench/scale -orgs 1000 -n 200  # smaller
//
// Ratios within one run count, not absolute figures (the machine is shared).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func main() {
	dbURL := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server (fresh schemas are created and dropped)")
	orgs := flag.Int("orgs", 10000, "orgs in the big directory")
	n := flag.Int("n", 300, "timed calls per operation")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	keep := flag.Bool("keep", false, "keep the schemas (their names are printed)")
	flag.Parse()
	if err := run(context.Background(), *dbURL, *orgs, *n, *jsonOut, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// Result is one operation's latency in both directories, in microseconds.
type Result struct {
	Op                        string
	Small, Big                Stats
	Ratio                     float64 // Big.P95 / Small.P95; 0 when only Big is measured
	RatioP50                  float64 // Big.P50 / Small.P50
	SmallOrgs, BigOrgs, Calls int
}

// Stats are latency percentiles in microseconds.
type Stats struct{ P50, P95, P99 float64 }

type fixture struct {
	s      *directory.SQLStore
	res    directory.SeedResult
	target directory.SeedOrg
	drop   func()
	seed   time.Duration
}

func run(ctx context.Context, dbURL string, bigOrgs, n int, jsonOut string, keep bool) error {
	small, err := open(ctx, dbURL, 1, keep)
	if err != nil {
		return err
	}
	defer small.drop()
	big, err := open(ctx, dbURL, bigOrgs, keep)
	if err != nil {
		return err
	}
	defer big.drop()
	fmt.Printf("seeded 1 org in %v, %d orgs (%d users, %d workspaces, a user in %d orgs) in %v\n",
		small.seed.Round(time.Millisecond), bigOrgs, bigOrgs*10, bigOrgs*5, max(bigOrgs/10, 1), big.seed.Round(time.Millisecond))

	ops := []struct {
		name string
		fn   func(f *fixture, i int) (time.Duration, error)
	}{
		{"admin: list members", func(f *fixture, _ int) (time.Duration, error) {
			_, _, err := f.s.ListMembers(ctx, f.target.ID, directory.Page{})
			return 0, err
		}},
		{"admin: list workspaces", func(f *fixture, _ int) (time.Duration, error) {
			_, _, err := f.s.ListWorkspaces(ctx, f.target.ID, directory.WorkspaceFilter{})
			return 0, err
		}},
		{"admin: change a role", func(f *fixture, i int) (time.Duration, error) {
			role := access.RoleViewOnly
			if i%2 == 1 {
				role = access.RolePlatformMember
			}
			_, err := f.s.SetMemberRole(ctx, "system:bench", f.target.ID, f.target.Users[1+i%9], role, 0)
			return 0, err
		}},
		{"sign-in callback: provision an existing member", func(f *fixture, i int) (time.Duration, error) {
			j := i % len(f.target.Users)
			_, err := f.s.ProvisionLogin(ctx, directory.LoginIdentity{OrgID: f.target.ID, ConnectionID: f.target.ConnectionID,
				Issuer: f.target.Issuer, Subject: directory.SeedSubject(j), Email: email(f, j), EmailVerified: true, Name: fmt.Sprintf("u%d", j)})
			return 0, err
		}},
		{"token / opik cold: API key + principal access", func(f *fixture, _ int) (time.Duration, error) {
			// A write first (not timed): it empties the lookup cache, so
			// both reads reach the database.
			if _, err := f.s.SetMemberRole(ctx, "system:bench", f.target.ID, f.target.ServiceAccounts[0], access.RolePlatformMember, 0); err != nil {
				return 0, err
			}
			t0 := time.Now()
			k, err := f.s.LookupAPIKey(ctx, f.target.APIKeys[0])
			if err == nil {
				_, err = f.s.PrincipalAccess(ctx, k.Key.OrgID, k.Key.ServiceAccountID)
			}
			return time.Since(t0), err
		}},
		{"token / opik warm: API key + principal access", func(f *fixture, _ int) (time.Duration, error) {
			k, err := f.s.LookupAPIKey(ctx, f.target.APIKeys[0])
			if err == nil {
				_, err = f.s.PrincipalAccess(ctx, k.Key.OrgID, k.Key.ServiceAccountID)
			}
			return 0, err
		}},
	}
	var results []Result
	fmt.Printf("\n%-48s %27s %27s %6s %6s\n", "operation (p50 / p95 / p99 µs)", "1 org", fmt.Sprintf("%d orgs", bigOrgs), "p95 x", "p50 x")
	for _, op := range ops {
		r := Result{Op: op.name, SmallOrgs: 1, BigOrgs: bigOrgs, Calls: n}
		// Warm both up, then alternate small and big call by call (which
		// goes first alternates too), so drift on the machine hits both.
		for _, f := range []*fixture{small, big} {
			if err := warmUp(f, op.fn); err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
		}
		var ls, lb []time.Duration
		for i := range n {
			for k := range 2 {
				f := []*fixture{small, big}[(i+k)%2]
				lat, err := timeCall(f, 20+i, op.fn)
				if err != nil {
					return fmt.Errorf("%s: %w", op.name, err)
				}
				if f == small {
					ls = append(ls, lat)
				} else {
					lb = append(lb, lat)
				}
			}
		}
		r.Small, r.Big = stats(ls), stats(lb)
		r.Ratio, r.RatioP50 = r.Big.P95/r.Small.P95, r.Big.P50/r.Small.P50
		results = append(results, r)
		fmt.Printf("%-48s %27s %27s %6.2f %6.2f\n", op.name, r.Small, r.Big, r.Ratio, r.RatioP50)
	}

	// The org switch: the many-org user re-checked in a different org each
	// time (membership and workspaces, never cached before: cold).
	var sw []time.Duration
	for i := range min(n, len(big.res.Orgs)) {
		o := big.res.Orgs[i%max(len(big.res.Orgs)/10, 1)]
		t0 := time.Now()
		if _, err := big.s.PrincipalAccess(ctx, o.ID, big.res.ManyOrgUser); err != nil {
			return fmt.Errorf("org switch: %w", err)
		}
		sw = append(sw, time.Since(t0))
	}
	r := Result{Op: "org switch (store part, cold)", Big: stats(sw), BigOrgs: bigOrgs, Calls: len(sw)}
	results = append(results, r)
	fmt.Printf("%-48s %27s %27s %6s\n", r.Op, "-", r.Big, "-")
	if jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// warmUp runs fn 20 times, untimed.
func warmUp(f *fixture, fn func(*fixture, int) (time.Duration, error)) error {
	for i := range 20 {
		if _, err := fn(f, i); err != nil {
			return err
		}
	}
	return nil
}

// timeCall times one call of fn; an operation that prepares its state
// first returns its own time.
func timeCall(f *fixture, i int, fn func(*fixture, int) (time.Duration, error)) (time.Duration, error) {
	t0 := time.Now()
	own, err := fn(f, i)
	if err != nil {
		return 0, err
	}
	if d := time.Since(t0); own <= 0 {
		return d, nil
	}
	return own, nil
}

func (s Stats) String() string { return fmt.Sprintf("%.1f / %.1f / %.1f", s.P50, s.P95, s.P99) }

func stats(ds []time.Duration) Stats {
	slices.Sort(ds)
	p := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))]) / 1e3
	}
	return Stats{P50: p(0.50), P95: p(0.95), P99: p(0.99)}
}

// email is the seeded email of the target org's user j (directory.SeedTenants).
func email(_ *fixture, j int) string { return fmt.Sprintf("u%d@org0.scale.example", j) }

// open seeds a fresh schema with orgs orgs; the target is org 0 (in the big
// directory also the many-org user's first org).
func open(ctx context.Context, dbURL string, orgs int, keep bool) (*fixture, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "ssb_scale_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	drop := func() {
		if !keep {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		} else {
			fmt.Println("kept schema", schema)
		}
		conn.Close(context.Background())
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return nil, err
	}
	v := u.Query()
	v.Set("search_path", schema)
	u.RawQuery = v.Encode()
	s, err := directory.OpenPostgres(ctx, u.String(), nil)
	if err != nil {
		drop()
		return nil, err
	}
	t0 := time.Now()
	res, err := s.SeedTenants(ctx, directory.SeedSpec{Orgs: orgs, ManyOrgUserOrgs: max(orgs/10, 1), Prefix: "scale"})
	if err != nil {
		s.Close()
		drop()
		return nil, err
	}
	f := &fixture{s: s, res: res, target: res.Orgs[0], seed: time.Since(t0)}
	f.drop = func() { s.Close(); drop() }
	return f, nil
}
