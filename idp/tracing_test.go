package idp_test

import (
	"log/slog"
	"net/http"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
	"github.com/ssobroker/ssobroker/session"
)

// TestSAMLSignInSpans: with Options.TracerProvider, a SAML sign-in's ACS
// request has idp.saml.acs (the response verified) and then idp.provision
// under the request's server span, both naming the org and the connection;
// starting it builds the connector (the metadata parsed) under the start
// request's span. (The OIDC steps and the wiring are proven through serve in
// cmd/ssobroker/tracing_test.go.)
func TestSAMLSignInSpans(t *testing.T) {
	dir := directorytest.SQLite(t)
	w := newWorld(t, dir, session.NewMemory(session.Options{}), nil)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(bg) }()
	svc, err := idp.New(idp.Options{
		Issuer: w.srv.URL, Directory: dir, Sessions: w.sessions, Secrets: w.box,
		Connectors: idp.Registry{directory.ConnectionOIDC: oidc.New, directory.ConnectionSAML: saml.New},
		HTTPClient: idp.NewUpstreamClient(true), Logger: slog.New(slog.DiscardHandler),
		TracerProvider: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	mux := http.NewServeMux()
	svc.Routes(mux)
	w.svc = svc
	w.srv.Config.Handler = otelhttp.NewHandler(mux, "test", otelhttp.WithTracerProvider(tp))

	ip := samltest.NewIdP(t, "https://idp.example.test/saml")
	o := w.org("Traced "+rnd(), directory.JITAuto, "traced-"+rnd()+".test")
	c := w.samlConn(o.ID, ip, nil, nil)
	domains := must[[]directory.Domain](t)(dir.ListDomains(bg, o.ID))
	b := newBrowser(t)
	id, relay := w.samlStart(b, o.ID)
	p := b.post(svc.CallbackURL(c), samltest.Form(ip.Response(t, w.samlParams(c, id, "ada@"+domains[0].Domain), samltest.Options{}), relay))
	wantStatus(t, p, http.StatusSeeOther)

	spans := exp.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	one := func(name string) tracetest.SpanStub {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("%d spans named %q, want 1 (spans: %v)", len(byName[name]), name, names(spans))
		}
		return byName[name][0]
	}
	start, acsReq := one("GET /login/{org}"), one("POST /sso/saml/{conn}/acs")
	build, acs, prov := one("idp.connector.build"), one("idp.saml.acs"), one("idp.provision")
	for _, c := range []struct {
		span, parent tracetest.SpanStub
	}{{build, start}, {acs, acsReq}, {prov, acsReq}} {
		if c.span.Parent.SpanID() != c.parent.SpanContext.SpanID() {
			t.Errorf("%s is not under %s", c.span.Name, c.parent.Name)
		}
	}
	for _, s := range []tracetest.SpanStub{build, acs, prov} {
		got := map[string]string{}
		for _, a := range s.Attributes {
			got[string(a.Key)] = a.Value.Emit()
		}
		if got["ssobroker.connection.id"] != c.ID || got["ssobroker.org.id"] != o.ID || got["ssobroker.connection.type"] != "saml" {
			t.Errorf("%s attributes %v do not name the connection", s.Name, got)
		}
	}
	if acs.EndTime.After(prov.StartTime) {
		t.Errorf("provisioning started before the response was verified")
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
