package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// configFrom binds the configuration from env alone.
func configFrom(t *testing.T, env map[string]string) *config {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := bindConfig(fs, func(k string) string { return env[k] })
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// SSOBROKER_SESSION_COOKIE_DOMAIN and SSOBROKER_OPIK_PERMISSION_MAP are
// checked at startup, naming the variable and the reason.
func TestOpikDeploymentSettingsAreValidatedAtStartup(t *testing.T) {
	for _, c := range []struct {
		issuer, domain, perms string
		want                  []string // fragments of the error; none: valid
	}{
		{issuer: "https://sso.example.com", domain: "example.com"},
		{issuer: "https://sso.example.com", domain: ".example.com", perms: "agent_insights_view=workspace.read,agent_insights_log=trace_span_thread_log"},
		{issuer: "http://127.0.0.1:8080"},
		{issuer: "https://sso.example.com", domain: "com", want: []string{"SSOBROKER_SESSION_COOKIE_DOMAIN", "public suffix"}},
		{issuer: "https://sso.example.com", domain: "other.org", want: []string{"SSOBROKER_SESSION_COOKIE_DOMAIN", "parent domains"}},
		{issuer: "http://127.0.0.1:8080", domain: "example.com", want: []string{"SSOBROKER_SESSION_COOKIE_DOMAIN", "IP address"}},
		{issuer: "https://sso.example.com", perms: "agent_insights_view", want: []string{"SSOBROKER_OPIK_PERMISSION_MAP", "opik_permission=our_permission"}},
		{issuer: "https://sso.example.com", perms: "x=workspace.nope", want: []string{"SSOBROKER_OPIK_PERMISSION_MAP", "neither one of our permissions"}},
		{issuer: "https://sso.example.com", domain: "co.uk", perms: "trace_tag=workspace.read",
			want: []string{"SSOBROKER_SESSION_COOKIE_DOMAIN", "SSOBROKER_OPIK_PERMISSION_MAP", "already mapped"}},
	} {
		cfg := configFrom(t, map[string]string{"SSOBROKER_ISSUER": c.issuer, "SSOBROKER_SESSION_COOKIE_DOMAIN": c.domain, "SSOBROKER_OPIK_PERMISSION_MAP": c.perms})
		err := cfg.validate()
		if len(c.want) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", c, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%+v: accepted", c)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not name %q", c, err, w)
			}
		}
	}
	if d, err := configFrom(t, map[string]string{"SSOBROKER_ISSUER": "https://sso.example.com", "SSOBROKER_SESSION_COOKIE_DOMAIN": ".Example.com"}).sessionCookieDomain(); err != nil || d != "example.com" {
		t.Errorf("the domain is normalised: %q, %v", d, err)
	}
}
