package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// TestVerifierRevocationBound proves the bound of the verifier's optional
// revocation check (docs/verifying-tokens.md, "Revocation at the
// verifier"): a service that verifies access tokens offline with
// tokens/verify and checks revocation with a verify.Introspector against
// replica B refuses a user's still-unexpired access token at most Interval
// after B stops holding it active, when an admin removes the user on
// replica A.
//
// The first service's clock stands still unless the test moves it, so the
// bound is shown exactly and without timing: after the removal has reached
// B (B's own introspection answers inactive), that service still accepts
// the token just before Interval since its last question (the documented
// staleness) and refuses it at Interval. A second service on the real clock
// measures the time from the removal to its first refusal (logged).
//
//	./.ci/test -count=1 -v -run TestVerifierRevocationBound ./e2e/
func TestVerifierRevocationBound(t *testing.T) {
	w := newWorld(t)
	k := w.deprovisionKit(t)
	ctx := context.Background()
	const interval = 2 * time.Second
	service := func(now func() time.Time) (*verify.Verifier, *verify.Introspector) {
		keys, err := verify.NewRemoteKeySet(w.jwksB, verify.RemoteKeySetConfig{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		in, err := verify.NewIntrospector(verify.IntrospectionConfig{URL: w.b.base + verify.IntrospectionPath,
			ClientID: k.saID, ClientSecret: k.saKey, Interval: interval, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.New(verify.Config{Issuer: w.issuer, Audience: []string{w.app.ID}, Keys: keys, Revocation: in, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return v, in
	}
	v := k.signIn(t)
	clk := verifytest.NewClock(time.Now())
	still, _ := service(clk.Now)
	real, _ := service(time.Now)
	for _, s := range []*verify.Verifier{still, real} {
		c, err := s.Verify(ctx, v.accessToken)
		if err != nil {
			t.Fatalf("the service refuses a fresh sign-in: %v", err)
		}
		if c.Subject != v.sub || !verify.Allowed(c, "research", access.WorkspaceWrite) {
			t.Fatalf("claims %+v: want %s with workspace.write in research", c, v.sub)
		}
	}

	// Remove the user on A; the real-clock service is polled meanwhile.
	t0 := time.Now()
	var measured time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for time.Since(t0) < refuseWithin {
			_, err := real.Verify(ctx, v.accessToken)
			if errors.Is(err, verify.ErrRevoked) {
				measured = time.Since(t0)
				return
			}
			if err != nil {
				t.Errorf("the real-clock service: %v, want accepted or revoked", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Errorf("the real-clock service (interval %s) still accepts the token %s after the removal", interval, refuseWithin)
	}()
	k.removeByAdminAPI(t, v)
	for ok, why := k.probe("introspection", &v); ok || why != ""; ok, why = k.probe("introspection", &v) {
		if why != "" {
			t.Fatalf("introspection on B: %s", why)
		}
		if time.Since(t0) > refuseWithin {
			t.Fatalf("B still holds the token active %s after the removal", refuseWithin)
		}
		time.Sleep(5 * time.Millisecond)
	}
	atB := time.Since(t0)

	// B refuses now. The still service last asked before the removal: it
	// accepts until Interval since then, and refuses at Interval.
	clk.Advance(interval - time.Millisecond)
	if _, err := still.Verify(ctx, v.accessToken); err != nil {
		t.Fatalf("just before Interval since its last question: %v, want still accepted (not asked again)", err)
	}
	clk.Advance(time.Millisecond)
	_, err := still.Verify(ctx, v.accessToken)
	var te *verify.TokenError
	if !errors.Is(err, verify.ErrRevoked) || !errors.As(err, &te) || te.Reason != "token revoked" {
		t.Fatalf("at Interval after its last question: %v, want \"token revoked\"", err)
	}
	wg.Wait()
	t.Logf("removal on A → inactive at B's introspection: %s; → refused by the real-clock service (Interval %s): %s",
		atB.Round(time.Millisecond), interval, measured.Round(time.Millisecond))
}
