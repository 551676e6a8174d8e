package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

type failedRow struct {
	at time.Time
	directory.SignInFailures
}

func signInFailedRows(t *testing.T, s *directory.SQLStore, orgID string) []failedRow {
	t.Helper()
	var out []failedRow
	after := ""
	for {
		evs, next, err := s.ListAudit(context.Background(), orgID, directory.AuditFilter{Action: directory.ActionSignInFailed,
			Page: directory.Page{Limit: 200, After: after}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			var f directory.SignInFailures
			if err := json.Unmarshal([]byte(e.After), &f); err != nil {
				t.Fatal(err)
			}
			if e.Target != f.ConnectionID || e.Actor != directory.SystemActor {
				t.Fatalf("row target %q actor %q", e.Target, e.Actor)
			}
			out = append(out, failedRow{e.At, f})
		}
		if next == "" {
			break
		}
		after = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// TestSignInFailuresAggregated: on both engines, two replicas count
// failures and write signin.failed rows: one row per connection and reason
// per window carrying the count, the counts adding up to every failure of
// an existing connection, nothing for a connection that does not exist,
// at most directory.MaxSignInFailedPerOrgWindow rows per org per window,
// and at most MaxPending pairs held in memory.
func TestSignInFailuresAggregated(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			stores := directorytest.Replicas(t, engine)
			org := newOrg(t, stores[0])
			conn, err := stores[0].CreateConnection(ctx, "system:test", directory.Connection{OrgID: org, Type: directory.ConnectionSAML, Name: "idp"})
			if err != nil {
				t.Fatal(err)
			}
			const window = 2 * time.Second
			var aggs [2]*webhooks.FailureAggregator
			for i, s := range stores {
				if aggs[i], err = webhooks.NewFailureAggregator(webhooks.FailureAggregatorConfig{Store: s, Window: window}); err != nil {
					t.Fatal(err)
				}
			}
			flush := func(i int) int {
				n, err := aggs[i].Flush(ctx)
				if err != nil {
					t.Fatalf("flush %d: %v", i, err)
				}
				return n
			}
			add := func(i, n int, reason string) {
				for range n {
					aggs[i].Add(conn.ID, reason, "response", time.Now())
				}
			}
			add(0, 5, "saml.signature")
			add(0, 2, "saml.audience")
			aggs[0].Add("conn_doesnotexist", "saml.signature", "response", time.Now())
			if n := flush(0); n != 2 {
				t.Fatalf("first flush wrote %d rows, want 2 (one per reason)", n)
			}
			// Within the window: counted, not written, on either replica.
			add(0, 3, "saml.signature")
			add(1, 4, "saml.signature")
			if n := flush(0) + flush(1); n != 0 {
				t.Fatalf("within the window %d rows were written", n)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				flush(0)
				flush(1)
				var sum int64
				for _, r := range signInFailedRows(t, stores[0], org) {
					if r.Reason == "saml.signature" {
						sum += r.Count
					}
				}
				if sum == 12 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("saml.signature counts add up to %d, want 12", sum)
				}
				time.Sleep(200 * time.Millisecond)
			}
			rows := signInFailedRows(t, stores[0], org)
			last := map[string]time.Time{}
			for _, r := range rows {
				if r.ConnectionID != conn.ID || r.Count < 1 || r.WindowSeconds != 2 || r.First.After(r.Last) {
					t.Fatalf("row %+v", r)
				}
				if p, ok := last[r.Reason]; ok && r.at.Sub(p) < window {
					t.Fatalf("two %s rows %s apart, within the %s window", r.Reason, r.at.Sub(p), window)
				}
				last[r.Reason] = r.at
			}
			if got := len(rows); got != 4 { // audience 2; signature 5, then 3 and 4 in one or two rows
				if got != 3 {
					t.Fatalf("%d rows: %+v", got, rows)
				}
			}

			// The per-org bound: 105 reasons at once, 100 rows in the window
			// (2 of them written above may still count).
			big, err := webhooks.NewFailureAggregator(webhooks.FailureAggregatorConfig{Store: stores[1], Window: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 105 {
				big.Add(conn.ID, fmt.Sprintf("reason.%03d", i), "policy", time.Now())
			}
			if _, err := big.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			recent := 0
			for _, r := range signInFailedRows(t, stores[0], org) {
				if time.Since(r.at) < time.Hour && len(r.Reason) == len("reason.000") {
					recent++
				}
			}
			if recent > directory.MaxSignInFailedPerOrgWindow || recent < directory.MaxSignInFailedPerOrgWindow-4 {
				t.Fatalf("%d rows for 105 reasons in one window, want at most %d", recent, directory.MaxSignInFailedPerOrgWindow)
			}

			// Memory: at most MaxPending pairs (another org, so the bound
			// above does not refuse its rows).
			org2 := newOrg(t, stores[0])
			conn2, err := stores[0].CreateConnection(ctx, "system:test", directory.Connection{OrgID: org2, Type: directory.ConnectionSAML, Name: "idp"})
			if err != nil {
				t.Fatal(err)
			}
			small, err := webhooks.NewFailureAggregator(webhooks.FailureAggregatorConfig{Store: stores[1], Window: time.Hour, MaxPending: 3})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				small.Add(conn2.ID, fmt.Sprintf("other.%d", i), "policy", time.Now())
			}
			n, err := small.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if listed := len(signInFailedRows(t, stores[0], org2)); n != 3 || listed != 3 {
				t.Fatalf("a 3-pair aggregator given 10 pairs wrote %d rows (%d listed), want 3", n, listed)
			}
		})
	}
}
