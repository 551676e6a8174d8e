package directory_test

import (
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// The back-channel logout outbox (docs/logout.md) on every engine, with
// two stores on one database as two replicas: a notice is queued once,
// leased to one sender at a time, due again when its lease passes (a
// sender that died), rescheduled, failed or deleted as the sender records,
// and only by the lease holder.
func TestBackchannelOutbox(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			r := directorytest.Replicas(t, engine)
			a, b := r[0], r[1]
			c, _, err := a.CreateClient(bg, actorSystem, directory.NewClient{Name: "rp " + tok(), RedirectURIs: []string{"https://rp.example/cb"},
				BackchannelLogoutURI: "https://rp.example/bcl"})
			noErr(t, err)
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			notice := directory.BackchannelLogout{ClientID: c.ID, UserID: "usr_1", SID: "sid_1"}
			gone := directory.BackchannelLogout{ClientID: "cli_gone", UserID: "usr_1", SID: "sid_1"}
			n, err := a.EnqueueBackchannelLogouts(bg, t0, []directory.BackchannelLogout{notice, gone})
			noErr(t, err)
			if n != 2 {
				t.Fatalf("queued %d, want 2", n)
			}
			if n, err := b.EnqueueBackchannelLogouts(bg, t0, []directory.BackchannelLogout{notice}); err != nil || n != 0 {
				t.Fatalf("queueing the same notice again: %d, %v; want 0 (already queued)", n, err)
			}

			lease := 10 * time.Second
			jobs, err := a.ClaimBackchannelLogouts(bg, directory.BackchannelClaim{Owner: "dead", Now: t0, Lease: lease, Limit: 10})
			noErr(t, err)
			if len(jobs) != 2 {
				t.Fatalf("claimed %d, want 2", len(jobs))
			}
			uris := map[string]string{}
			for _, j := range jobs {
				uris[j.Delivery.ClientID] = j.URI
				if j.Delivery.UserID != "usr_1" || j.Delivery.SID != "sid_1" || j.Delivery.Attempts != 0 {
					t.Fatalf("claimed %+v", j.Delivery)
				}
			}
			if uris[c.ID] != "https://rp.example/bcl" || uris["cli_gone"] != "" {
				t.Fatalf("URIs %v: want the client's, and none for a client that does not exist", uris)
			}
			if again, err := b.ClaimBackchannelLogouts(bg, directory.BackchannelClaim{Owner: "b", Now: t0.Add(lease / 2), Lease: lease, Limit: 10}); err != nil || len(again) != 0 {
				t.Fatalf("claimed %d leased deliveries (%v), want 0", len(again), err)
			}

			// The first owner died: after its lease the other replica takes them.
			after := t0.Add(lease + time.Second)
			jobs, err = b.ClaimBackchannelLogouts(bg, directory.BackchannelClaim{Owner: "b", Now: after, Lease: lease, Limit: 10})
			noErr(t, err)
			if len(jobs) != 2 {
				t.Fatalf("after the lease claimed %d, want 2", len(jobs))
			}
			byClient := map[string]directory.BackchannelJob{}
			for _, j := range jobs {
				byClient[j.Delivery.ClientID] = j
			}
			live, dead := byClient[c.ID].Delivery.ID, byClient["cli_gone"].Delivery.ID
			if ok, err := a.RecordBackchannelAttempt(bg, "dead", live, directory.BackchannelAttempt{At: after, Status: directory.DeliveryDelivered}); err != nil || ok {
				t.Fatalf("the expired owner recorded an outcome: %v, %v", ok, err)
			}
			next := after.Add(time.Minute)
			ok, err := b.RecordBackchannelAttempt(bg, "b", live, directory.BackchannelAttempt{At: after, Status: directory.DeliveryPending,
				StatusCode: 500, ErrorClass: "status", NextAttemptAt: next})
			if err != nil || !ok {
				t.Fatalf("record pending: %v, %v", ok, err)
			}
			ok, err = b.RecordBackchannelAttempt(bg, "b", dead, directory.BackchannelAttempt{At: after, Status: directory.DeliveryFailed, ErrorClass: "no_uri"})
			if err != nil || !ok {
				t.Fatalf("record failed: %v, %v", ok, err)
			}
			if early, err := a.ClaimBackchannelLogouts(bg, directory.BackchannelClaim{Owner: "a", Now: next.Add(-time.Second), Lease: lease, Limit: 10}); err != nil || len(early) != 0 {
				t.Fatalf("claimed %d before the retry is due (%v), want 0", len(early), err)
			}
			jobs, err = a.ClaimBackchannelLogouts(bg, directory.BackchannelClaim{Owner: "a", Now: next, Lease: lease, Limit: 10})
			noErr(t, err)
			if len(jobs) != 1 || jobs[0].Delivery.ID != live || jobs[0].Delivery.Attempts != 1 || jobs[0].Delivery.LastStatusCode != 500 {
				t.Fatalf("at the retry claimed %+v, want the live delivery after 1 attempt (500)", jobs)
			}
			if ok, err := a.RecordBackchannelAttempt(bg, "a", live, directory.BackchannelAttempt{At: next, Status: directory.DeliveryDelivered}); err != nil || !ok {
				t.Fatalf("record delivered: %v, %v", ok, err)
			}
			left, err := b.BackchannelDeliveries(bg, 10)
			noErr(t, err)
			if len(left) != 1 || left[0].ID != dead || left[0].Status != directory.DeliveryFailed || left[0].LastError != "no_uri" {
				t.Fatalf("left in the outbox: %+v, want only the failed one", left)
			}
			if n, err := a.PruneBackchannelLogouts(bg, t0.Add(-time.Second)); err != nil || n != 0 {
				t.Fatalf("pruned %d newer than the horizon (%v)", n, err)
			}
			if n, err := a.PruneBackchannelLogouts(bg, t0.Add(time.Second)); err != nil || n != 1 {
				t.Fatalf("pruned %d (%v), want the failed one", n, err)
			}
		})
	}
}
