package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// ScaleRow is one operation of the tenant-scale table: its latency over HTTP
// in the 1-org directory and in the big one, org 0 of identical shape in both.
type ScaleRow struct {
	Op         string
	What       string // the request
	Small, Big Dist
	Calls      int
}

// scaleOp is one timed call; it returns the time to count (an operation
// that first prepares its state, untimed, measures its own part).
type scaleOp struct {
	name, what string
	calls      int
	fn         func(ctx context.Context, d *deployment, ls loginSetup, i int) (time.Duration, error)
}

// measureScale runs every operation against both deployments, alternating
// call by call (small, big, big, small, …) so that drift on the machine hits
// both alike.
func measureScale(ctx context.Context, small, big *deployment, lsSmall, lsBig loginSetup, up *upstream, n, logins int, progress func(string)) ([]ScaleRow, []loginTiming, []loginTiming, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	do := func(ctx context.Context, method, u, auth, ctype string, body string, want int) error {
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			return err
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, clip(b))
		}
		return nil
	}
	orgURL := func(d *deployment) string { return d.urlA + "/api/v1/orgs/" + d.target.ID }
	roles := []access.OrgRole{access.RoleViewOnly, access.RolePlatformMember}
	saRoles := []access.OrgRole{access.RoleOpikMember, access.RolePlatformMember}
	setRole := func(ctx context.Context, d *deployment, principal string, role access.OrgRole) error {
		b, _ := json.Marshal(map[string]string{"role": string(role)})
		return do(ctx, "PATCH", orgURL(d)+"/members/"+principal, "Bearer "+d.adminKey, "application/json", string(b), 200)
	}
	token := func(ctx context.Context, d *deployment) error {
		return do(ctx, "POST", d.urlA+"/oauth2/token", d.basic(), "application/x-www-form-urlencoded", "grant_type=client_credentials", 200)
	}
	opik := func(ctx context.Context, d *deployment) error {
		body := `{"workspaceName":"` + wsName(d) + `","path":"/v1/private/projects"}`
		return do(ctx, "POST", d.urlA+"/opik/auth", d.tokenKey, "application/json", body, 200)
	}
	timed := func(f func() error) (time.Duration, error) {
		t0 := time.Now()
		err := f()
		return time.Since(t0), err
	}
	ops := []scaleOp{
		{"admin: list members", "GET /api/v1/orgs/{org}/members", n, func(ctx context.Context, d *deployment, _ loginSetup, _ int) (time.Duration, error) {
			return timed(func() error { return do(ctx, "GET", orgURL(d)+"/members", "Bearer "+d.adminKey, "", "", 200) })
		}},
		{"admin: list workspaces", "GET /api/v1/orgs/{org}/workspaces", n, func(ctx context.Context, d *deployment, _ loginSetup, _ int) (time.Duration, error) {
			return timed(func() error { return do(ctx, "GET", orgURL(d)+"/workspaces", "Bearer "+d.adminKey, "", "", 200) })
		}},
		{"admin: change a role", "PATCH /api/v1/orgs/{org}/members/{user}", n, func(ctx context.Context, d *deployment, _ loginSetup, i int) (time.Duration, error) {
			return timed(func() error { return setRole(ctx, d, d.target.Users[1+i%9], roles[(i/9)%2]) })
		}},
		{"sign-in callback", "GET /sso/oidc/{conn}/callback on replica B (upstream code exchange, ID token check, provisioning of an existing member, session)", logins,
			func(ctx context.Context, d *deployment, ls loginSetup, _ int) (time.Duration, error) {
				lt, err := login(ctx, d, ls, up, "openid email")
				return lt.Callback, err
			}},
		{"token, warm", "POST /oauth2/token client_credentials (API key and principal from the cache)", n, func(ctx context.Context, d *deployment, _ loginSetup, _ int) (time.Duration, error) {
			return timed(func() error { return token(ctx, d) })
		}},
		{"token, cold", "the same right after a role change of the service account emptied the caches", n, func(ctx context.Context, d *deployment, _ loginSetup, i int) (time.Duration, error) {
			if err := setRole(ctx, d, d.tokenSA, saRoles[i%2]); err != nil {
				return 0, err
			}
			return timed(func() error { return token(ctx, d) })
		}},
		{"/opik/auth, warm", "POST /opik/auth with the API key, a workspace of the org", n, func(ctx context.Context, d *deployment, _ loginSetup, _ int) (time.Duration, error) {
			return timed(func() error { return opik(ctx, d) })
		}},
		{"/opik/auth, cold", "the same right after a role change of the service account", n, func(ctx context.Context, d *deployment, _ loginSetup, i int) (time.Duration, error) {
			if err := setRole(ctx, d, d.tokenSA, saRoles[i%2]); err != nil {
				return 0, err
			}
			return timed(func() error { return opik(ctx, d) })
		}},
	}
	var rows []ScaleRow
	var loginsSmall, loginsBig []loginTiming
	for _, op := range ops {
		progress(op.name)
		var ls, lb []time.Duration
		sides := []struct {
			d   *deployment
			ls  loginSetup
			out *[]time.Duration
		}{{small, lsSmall, &ls}, {big, lsBig, &lb}}
		for _, side := range sides {
			for i := range 5 { // warm-up, not counted
				if _, err := op.fn(ctx, side.d, side.ls, i); err != nil {
					return nil, nil, nil, fmt.Errorf("%s (%d orgs): %w", op.name, side.d.Orgs, err)
				}
			}
		}
		// Call by call, alternating which side goes first, so that a burst
		// on the machine (GC, autovacuum, another process) lands on both
		// sides alike rather than on one half of one of them.
		for i := range op.calls {
			for k := range 2 {
				side := sides[(i+k)%2]
				el, err := op.fn(ctx, side.d, side.ls, 5+i)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("%s (%d orgs): %w", op.name, side.d.Orgs, err)
				}
				*side.out = append(*side.out, el)
			}
		}
		rows = append(rows, ScaleRow{Op: op.name, What: op.what, Small: distOf(ls), Big: distOf(lb), Calls: len(ls)})
	}
	// Whole logins through two replicas, on both directories (alternating).
	progress("full logins")
	for i := range logins {
		for _, side := range []struct {
			d   *deployment
			ls  loginSetup
			out *[]loginTiming
		}{{small, lsSmall, &loginsSmall}, {big, lsBig, &loginsBig}} {
			lt, err := login(ctx, side.d, side.ls, up, "openid email")
			if err != nil {
				return nil, nil, nil, fmt.Errorf("login %d (%d orgs): %w", i, side.d.Orgs, err)
			}
			*side.out = append(*side.out, lt)
		}
	}
	return rows, loginsSmall, loginsBig, nil
}

// wsName is the name of org 0's default workspace (directory.SeedTenants).
func wsName(d *deployment) string { return reportPrefix + "-0-0" }

const reportPrefix = "rep"

// loginDists splits logins into the distributions of the whole and its parts.
func loginDists(ls []loginTiming) (total, broker, upstreamPart Dist) {
	var t, b, u []time.Duration
	for _, l := range ls {
		t = append(t, l.Total)
		u = append(u, l.Upstream)
		b = append(b, l.Total-l.Upstream)
	}
	return distOf(t), distOf(b), distOf(u)
}
