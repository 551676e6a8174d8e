package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/scim"
	"github.com/ssobroker/ssobroker/session"
)

// TestSCIMDeactivationEndsSessions: a user provisioned over SCIM with a
// browser session and a refresh-token family, in the in-process session
// store and in Redis, is deactivated by a PATCH active=false; through the
// revoker the broker wires (sessionRevoker), the session is gone at once,
// the family revoked, and SessionStanding refuses the sign-in. Redis is
// required: the test fails without SSOBROKER_TEST_REDIS_URL.
func TestSCIMDeactivationEndsSessions(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) session.Store{
		"memory": func(*testing.T) session.Store { return session.NewMemory(session.Options{}) },
		"redis": func(t *testing.T) session.Store {
			u := os.Getenv("SSOBROKER_TEST_REDIS_URL")
			if u == "" {
				t.Fatal("SSOBROKER_TEST_REDIS_URL is not set (see .ci/test)")
			}
			r, err := session.NewRedis(ctx, u, session.Options{})
			if err != nil {
				t.Fatalf("redis: %v", err)
			}
			return r
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			sess := open(t)
			defer sess.Close()
			dir := directorytest.SQLite(t)
			org, _, err := dir.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Deprov " + name})
			if err != nil {
				t.Fatal(err)
			}
			_, secret, err := dir.CreateSCIMToken(ctx, "system:test", org.ID, "idp")
			if err != nil {
				t.Fatal(err)
			}
			srv, err := scim.New(scim.Config{Store: dir, Sessions: sessionRevoker{sess}, Issuer: "https://sso.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			srv.Routes(mux)
			send := func(method, path, body string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(method, "/scim/v2/"+org.ID+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				req.Header.Set("Content-Type", "application/scim+json")
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, req)
				return w
			}
			w := send("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"leaver-`+name+`@example.com","active":true}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			userID := scimJSONString(t, w.Body.Bytes(), "id")

			s, err := sess.CreateSession(ctx, session.Session{UserID: userID, OrgID: org.ID, ConnectionID: directory.LinkConnection, AMR: []string{"link"}})
			if err != nil {
				t.Fatal(err)
			}
			refresh, err := sess.CreateRefresh(ctx, session.RefreshFamily{UserID: userID, OrgID: org.ID, ClientID: "cli_test", Scope: "openid offline_access", SessionID: s.Handle})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dir.SessionStanding(ctx, org.ID, userID, directory.LinkConnection); err != nil {
				t.Fatalf("standing before: %v", err)
			}

			w = send("PATCH", "/Users/"+userID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":false}]}`)
			if w.Code != http.StatusOK {
				t.Fatalf("deactivate: %d %s", w.Code, w.Body.String())
			}
			if _, err := sess.GetSession(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("the browser session survived: %v", err)
			}
			if _, err := sess.GetRefresh(ctx, refresh); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("the refresh family survived: %v", err)
			}
			if _, err := dir.SessionStanding(ctx, org.ID, userID, directory.LinkConnection); !errors.Is(err, directory.ErrNoStanding) {
				t.Fatalf("standing after: %v", err)
			}
		})
	}
}

func scimJSONString(t *testing.T, body []byte, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	s, _ := m[key].(string)
	return s
}
