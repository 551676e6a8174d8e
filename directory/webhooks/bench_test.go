package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

// BenchmarkDeliveryLag100PerSecond measures the time from a change's commit
// (its audit row's time) to its event's arrival at a loopback receiver,
// under a burst of 100 changes per second for 10 s, on PostgreSQL with two
// replicas' workers (default settings: woken by the change notification,
// 1 s poll). Run it once:
//
//	go test -run '^$' -bench DeliveryLag -benchtime 1x ./directory/webhooks/
func BenchmarkDeliveryLag100PerSecond(b *testing.B) {
	const rate, seconds = 100, 10
	url := directorytest.PostgresSchemaURL(b)
	ctx := context.Background()
	var stores []*directory.SQLStore
	for range 2 {
		s, err := directory.OpenPostgres(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		stores = append(stores, s)
	}
	box := newBox(b)
	rc := newReceiver(b, nil)
	admin, _ := webhooks.NewAdmin(webhooks.AdminConfig{Store: stores[0], Sealer: box, AllowHTTP: true})
	org := newOrg(b, stores[0])
	if _, _, err := admin.CreateWebhook(ctx, "usr_admin", org, directory.NewWebhook{URL: rc.URL, EventTypes: []string{"audit.*"}}); err != nil {
		b.Fatal(err)
	}
	for _, s := range stores {
		runWorker(b, webhooks.WorkerConfig{Store: s, Secrets: box, Client: &http.Client{}, Changes: s})
	}
	for n := range b.N {
		b.StopTimer()
		start := len(rc.distinct())
		b.StartTimer()
		tick := time.NewTicker(time.Second / rate)
		for i := range rate * seconds {
			<-tick.C
			go func() {
				if _, err := stores[i%2].CreateWorkspace(ctx, "usr_actor", org, fmt.Sprintf("lag-%d-%d", n, i), ""); err != nil {
					b.Error(err)
				}
			}()
		}
		tick.Stop()
		waitFor(b, 120*time.Second, "every event", func() bool { return len(rc.distinct()) >= start+rate*seconds })
	}
	b.StopTimer()
	var lags []time.Duration
	for _, m := range rc.distinct() {
		var p webhooks.Payload
		if err := json.Unmarshal(m.Body, &p); err != nil {
			b.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, p.Timestamp)
		if err != nil {
			b.Fatal(err)
		}
		lags = append(lags, m.At.Sub(at))
	}
	b.ReportMetric(float64(percentile(lags, 0.5).Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(percentile(lags, 0.99).Microseconds())/1000, "p99-lag-ms")
	b.ReportMetric(float64(percentile(lags, 1).Microseconds())/1000, "max-lag-ms")
	b.Logf("%d events at %d/s: delivery lag p50 %s, p99 %s, max %s", len(lags), rate,
		percentile(lags, 0.5), percentile(lags, 0.99), percentile(lags, 1))
}
