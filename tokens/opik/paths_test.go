package opik_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ssobroker/ssobroker/tokens/opik"
)

// Opik's AuthFilter sends /v1/internal/analytics-queries/… (Agent Insights'
// read-only SQL, bounded to the caller's workspace) through the same
// remote-auth call as /v1/private/*: the answer depends on the caller, the
// workspace and the required permissions, never on the path, so both get
// the same answer for every caller.
func TestAnalyticsQueriesPathIsAnsweredLikePrivatePaths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		body := func(path, ws string, perms ...string) string {
			b, _ := json.Marshal(map[string]any{"workspaceName": ws, "path": path, "requiredPermissions": perms})
			return string(b)
		}
		const analytics = "/v1/internal/analytics-queries/projects/0190babc-62a0-7d32-9f5a-1c0ba3d5e6f7"
		for _, label := range []string{saAdmin, saPlatform, saViewOnly, saOpik, saAcmeOnly, saOtherAdmin} {
			for _, ws := range []string{researchName, "default", globexLabName} {
				for _, perms := range [][]string{nil, {"project_data_view"}, {"trace_span_thread_log"}} {
					private := f.call(http.MethodPost, opik.PathAuth, body("/v1/private/traces", ws, perms...), "Authorization", f.callers[label].key)
					internal := f.call(http.MethodPost, opik.PathAuth, body(analytics, ws, perms...), "Authorization", f.callers[label].key)
					if private.status != internal.status || string(private.body) != string(internal.body) {
						t.Errorf("%s in %s %v: /v1/private → %d %s, analytics-queries → %d %s", label, ws, perms,
							private.status, private.body, internal.status, internal.body)
					}
				}
			}
		}
		// The session path (Opik's UI) too.
		cookie := "sessionToken=" + f.callers[userPlatform].cookie
		a := f.call(http.MethodPost, opik.PathAuthSession, body(analytics, researchName), "Cookie", cookie)
		if a.status != 200 || a.str("workspaceId") != f.research.ID {
			t.Fatalf("session, analytics-queries: %d %s", a.status, a.body)
		}
		wantError(t, f.call(http.MethodPost, opik.PathAuthSession, body(analytics, "acme"), "Cookie", cookie), 403)
	})
}
