package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

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

// SwitchResult is the org switch of a user who is a member of Orgs
// organizations: an RFC 8693 token exchange of their access token for one
// of another of their orgs, a different one each call, warm (the
// directory's caches hold the user's access in that org) and cold (a
// committed change emptied every cache just before).
type SwitchResult struct {
	Orgs       int
	Warm, Cold Dist
	Calls      int
}

// measureSwitch signs a user in to org 0 of d, makes them a member of up to
// 1,000 more of its orgs, and times the exchange on replica A, n calls each
// way, cold and warm alternating call by call.
func measureSwitch(ctx context.Context, d *deployment, ls loginSetup, up *upstream, n int) (*SwitchResult, error) {
	lt, err := login(ctx, d, ls, up, "openid email")
	if err != nil {
		return nil, fmt.Errorf("org switch: sign in: %w", err)
	}
	sub, err := jwtSubject(lt.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("org switch: %w", err)
	}
	var orgs []string
	for _, o := range d.seed.Orgs {
		if len(orgs) == 1000 {
			break
		}
		if o.ID == d.target.ID {
			continue
		}
		if _, err := d.store.AddMember(ctx, "system:bench", o.ID, sub, access.RolePlatformMember); err != nil {
			return nil, fmt.Errorf("org switch: add the user to %s: %w", o.ID, err)
		}
		orgs = append(orgs, o.ID)
	}
	if len(orgs) == 0 {
		return nil, fmt.Errorf("org switch: the directory has no second org")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	auth := basicAuth(ls.clientID, ls.clientSecret)
	exchange := func(org string) (time.Duration, error) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {lt.AccessToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "organization": {org}}
		t0 := time.Now()
		status, b, err := postForm(ctx, hc, d.urlA+"/oauth2/token", auth, form)
		el := time.Since(t0)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("exchange into %s: %d %s", org, status, clip(b))
		}
		return el, err
	}
	roles := []access.OrgRole{access.RoleOpikMember, access.RolePlatformMember}
	emptyCaches := func(i int) error {
		return api(ctx, hc, d.adminKey, "PATCH", d.urlA+"/api/v1/orgs/"+d.target.ID+"/members/"+d.tokenSA,
			map[string]string{"role": string(roles[i%2])}, http.StatusOK, nil)
	}
	var warm, cold []time.Duration
	for i := range n + 5 {
		org := orgs[i%len(orgs)]
		if err := emptyCaches(i); err != nil {
			return nil, fmt.Errorf("org switch: %w", err)
		}
		c, err := exchange(org) // cold: the change above emptied the caches
		if err != nil {
			return nil, fmt.Errorf("org switch, cold: %w", err)
		}
		w, err := exchange(org) // warm: the same org again, from the caches
		if err != nil {
			return nil, fmt.Errorf("org switch, warm: %w", err)
		}
		if i >= 5 { // the first five warm the connections up
			cold, warm = append(cold, c), append(warm, w)
		}
	}
	return &SwitchResult{Orgs: len(orgs) + 1, Warm: distOf(warm), Cold: distOf(cold), Calls: n}, nil
}
