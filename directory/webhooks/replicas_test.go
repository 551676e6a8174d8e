package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

// Two replicas on one PostgreSQL, each with its worker, while both write:
// every event arrives, and (no worker dying, so no lease expiring) exactly
// once.
func TestTwoReplicasDeliverEachEventOnce(t *testing.T) {
	url := directorytest.PostgresSchemaURL(t)
	ctx := context.Background()
	var stores []*directory.SQLStore
	for range 2 {
		s, err := directory.OpenPostgres(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores = append(stores, s)
	}
	box := newBox(t)
	rc := newReceiver(t, nil)
	admin, _ := webhooks.NewAdmin(webhooks.AdminConfig{Store: stores[0], Sealer: box, AllowHTTP: true})
	org := newOrg(t, stores[0])
	if _, _, err := admin.CreateWebhook(ctx, "usr_admin", org, directory.NewWebhook{URL: rc.URL, EventTypes: []string{"audit.*"}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		runWorker(t, webhooks.WorkerConfig{Store: s, Secrets: box, Client: &http.Client{}, Changes: s, Poll: 100 * time.Millisecond})
	}
	const perWriter, writers = 75, 4 // two writers on each replica
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%2]
			for j := range perWriter {
				if _, err := s.CreateWorkspace(ctx, "usr_actor", org, fmt.Sprintf("r%d-%d", i, j), ""); err != nil {
					t.Errorf("create workspace: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	const want = perWriter * writers
	waitFor(t, 60*time.Second, fmt.Sprintf("%d events", want), func() bool { return len(rc.distinct()) >= want })
	time.Sleep(500 * time.Millisecond) // let a duplicate, if any, arrive
	got := rc.messages()
	seen := map[string]int{}
	var names []string
	for _, m := range got {
		seen[m.ID]++
		if seen[m.ID] > 1 {
			t.Errorf("webhook-id %s delivered %d times", m.ID, seen[m.ID])
		}
		var p webhooks.Payload
		if err := json.Unmarshal(m.Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != "audit.workspace.create" {
			t.Fatalf("unexpected event %s", p.Type)
		}
		names = append(names, p.Data.Target)
	}
	if len(seen) != want {
		t.Fatalf("%d distinct events, want %d", len(seen), want)
	}
	slices.Sort(names)
	if len(slices.Compact(names)) != want {
		t.Fatalf("events do not name %d distinct workspaces", want)
	}
}
