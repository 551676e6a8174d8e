package tokens

import (
	"encoding/json"
	"strings"
	"testing"
)

// The hand-written encoder writes a two-audience aud exactly as
// encoding/json writes the claims.
func TestAdminAudiencePayloadMatchesEncodingJSON(t *testing.T) {
	pa := samplePrincipalAccess("research")
	g := grant{sub: "usr_1", clientID: "cli_1", aud: "cli_1", aud2: "https://iss/api/v1", scope: "openid " + ScopeAdmin, access: &pa, first: -1, max: 5}
	got := g.appendPayload(nil, "https://iss", 1, 2, []byte("j"))
	want, _ := json.Marshal(g.claims("https://iss", 1, 2, "j"))
	if string(got) != string(want) || !strings.Contains(string(got), `"aud":["cli_1","https://iss/api/v1"]`) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
