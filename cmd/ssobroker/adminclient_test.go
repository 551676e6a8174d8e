package main

import (
	"encoding/json"
	"testing"
)

// `admin client create --admin-api` registers a client that may ask for the
// admin API's scope; without the flag it may not.
func TestClientCreateAdminAPIFlag(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()}
	for _, c := range []struct {
		flags []string
		want  bool
	}{{nil, false}, {[]string{"--admin-api"}, true}} {
		args := append([]string{"admin", "client", "create", "--name", "console-cli", "--public",
			"--redirect-uri", "http://127.0.0.1:8765/callback", "--json"}, c.flags...)
		code, out, stderr := runCLI(t, env, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", c.flags, code, stderr)
		}
		var res struct {
			Client struct {
				ID       string `json:"id"`
				AdminAPI bool   `json:"admin_api"`
			} `json:"client"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Client.ID == "" || res.Client.AdminAPI != c.want {
			t.Fatalf("%v: admin_api %v, want %v: %s", c.flags, res.Client.AdminAPI, c.want, out)
		}
	}
}
