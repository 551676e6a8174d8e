package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// The operator sees the back-channel logouts not delivered yet: a pending
// one with its next attempt, and one the notifier gave up on with its last
// answer; none holds a token.
func TestBackchannelListCommand(t *testing.T) {
	dataDir := t.TempDir()
	vars := map[string]string{"SSOBROKER_DATA_DIR": dataDir, "SSOBROKER_SECRET_KEY": strings.Repeat("A", 43) + "="}
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, vars, append([]string{"admin", "backchannel"}, args...)...)
	}
	if code, out, stderr := cli("list"); code != exitOK || !strings.Contains(out, "no back-channel logout is waiting or failed") {
		t.Fatalf("empty list: %d %q %s", code, out, stderr)
	}

	ctx := context.Background()
	s, err := directory.OpenSQLite(ctx, filepath.Join(dataDir, "ssobroker.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := s.EnqueueBackchannelLogouts(ctx, now, []directory.BackchannelLogout{
		{ClientID: "cl_failed", UserID: "usr_a", SID: "sid-a"},
		{ClientID: "cl_pending", UserID: "usr_b", SID: "sid-b"},
	}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimBackchannelLogouts(ctx, directory.BackchannelClaim{Owner: "test", Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	for _, j := range jobs {
		a := directory.BackchannelAttempt{At: now, Status: directory.DeliveryPending, StatusCode: 502, ErrorClass: "status", NextAttemptAt: now.Add(time.Hour)}
		if j.Delivery.ClientID == "cl_failed" {
			a.Status, a.StatusCode, a.ErrorClass = directory.DeliveryFailed, 0, "timeout"
		}
		if ok, err := s.RecordBackchannelAttempt(ctx, "test", j.Delivery.ID, a); !ok || err != nil {
			t.Fatalf("record: %v %v", ok, err)
		}
	}
	s.Close()

	code, out, stderr := cli("list", "--json")
	if code != exitOK {
		t.Fatalf("list --json: %d %s", code, stderr)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("list --json: %s (%v)", out, err)
	}
	by := map[string]map[string]any{}
	for _, d := range got {
		by[d["client_id"].(string)] = d
	}
	if f := by["cl_failed"]; f["status"] != "failed" || f["last_error"] != "timeout" || f["sub"] != "usr_a" || f["sid"] != "sid-a" || f["attempts"] != 1.0 {
		t.Errorf("failed delivery: %v", f)
	}
	if p := by["cl_pending"]; p["status"] != "pending" || p["last_status_code"] != 502.0 {
		t.Errorf("pending delivery: %v", p)
	}
	if strings.Contains(out, "logout_token") || strings.Contains(out, "eyJ") {
		t.Errorf("the list shows a token: %s", out)
	}
	code, out, _ = cli("list")
	if code != exitOK || !strings.Contains(out, "given up") || !strings.Contains(out, "502 status") || !strings.Contains(out, "cl_pending") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if code, _, stderr := cli("list", "--limit", "0"); code != exitUsage || !strings.Contains(stderr, "--limit 0") {
		t.Fatalf("--limit 0: %d %s", code, stderr)
	}
}
