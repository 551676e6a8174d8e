package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
)

// recordingTester stands in for idp.Service's test sign-ins (adminapi may
// not import idp; the sign-in itself is proven in idp and e2e): it keeps
// the tests it started and the landing each was given.
type recordingTester struct {
	mu       sync.Mutex
	tests    map[string]directory.ConnectionTest
	landings map[string]string
	n        int
}

func (r *recordingTester) add(orgID, connID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	id := fmt.Sprintf("ctest_%d", r.n)
	r.tests[id] = directory.ConnectionTest{ID: id, OrgID: orgID, ConnectionID: connID, Status: directory.TestPending}
	return id
}

func (r *recordingTester) StartConnectionTest(_ context.Context, actor string, c directory.Connection, landing func(string) string) (directory.ConnectionTest, string, error) {
	id := r.add(c.OrgID, c.ID)
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tests[id]
	t.StartedBy = actor
	r.tests[id] = t
	if r.landings == nil {
		r.landings = map[string]string{}
	}
	r.landings[id] = landing(id)
	return t, "https://sso.example.test/sso/test/secret-" + id, nil
}

func (r *recordingTester) ConnectionTest(_ context.Context, orgID, connID, id string) (directory.ConnectionTest, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tests[id]
	if !ok || t.OrgID != orgID || t.ConnectionID != connID {
		return t, &directory.NotFoundError{Kind: "connection test", Ref: id}
	}
	return t, nil
}

func TestConnectionTestRoutes(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		conn := f.newConnection()
		rec := f.as(cAdmin, "POST", f.pathA("/connections/"+conn+"/test"), "")
		wantStatus(t, rec, http.StatusCreated)
		var started struct {
			Test directory.ConnectionTest `json:"test"`
			URL  string                   `json:"url"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &started); err != nil {
			t.Fatal(err)
		}
		if started.Test.StartedBy != f.ids[cAdmin] || !strings.Contains(started.URL, "/sso/test/") {
			t.Fatalf("started %+v", started)
		}
		// The browser lands on the console's result page of this test.
		want := "/admin/" + f.orgA.ID + "/connections/" + conn + "/tests/" + started.Test.ID
		if got := f.tester.landings[started.Test.ID]; got != want {
			t.Fatalf("landing %q, want %q", got, want)
		}
		wantStatus(t, f.as(cAdmin, "GET", f.pathA("/connections/"+conn+"/tests/"+started.Test.ID), ""), http.StatusOK)
		// Another connection's path does not show this test.
		other := f.newConnection()
		wantStatus(t, f.as(cAdmin, "GET", f.pathA("/connections/"+other+"/tests/"+started.Test.ID), ""), http.StatusNotFound)
		// An unknown connection, a caller without credentials or without
		// org.admin: refused, and no test starts.
		before := f.tester.n
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/connections/conn_unknown/test"), ""), http.StatusNotFound)
		wantStatus(t, f.as(cAnon, "POST", f.pathA("/connections/"+conn+"/test"), ""), http.StatusUnauthorized)
		wantStatus(t, f.as(cPM, "POST", f.pathA("/connections/"+conn+"/test"), ""), http.StatusForbidden)
		if f.tester.n != before {
			t.Fatal("a refused request started a test")
		}
	})
}
