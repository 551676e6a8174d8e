package idp

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ssobroker/ssobroker/directory"
)

// Spans of the sign-in steps (Options.TracerProvider; docs/operations.md,
// "Tracing"). They sit under the request's server span that cmd adds at
// the HTTP edge, and the calls to the IdP (the upstream client's transport)
// and to the stores sit under them. A span carries ids (org, connection,
// user) and outcomes, never a token, code, assertion, email or name.
const (
	// spanConnectorBuild: building a connector, which fetches the OIDC
	// discovery document (and keys) or the SAML metadata.
	spanConnectorBuild = "idp.connector.build"
	// spanOIDCCallback: the upstream round trip's end, the code exchanged
	// and the ID token (and userinfo) verified.
	spanOIDCCallback = "idp.oidc.callback"
	// spanSAMLACS: the SAML response verified at the ACS.
	spanSAMLACS = "idp.saml.acs"
	// spanProvision: just-in-time provisioning in the directory.
	spanProvision = "idp.provision"
)

// tracerName names the instrumentation scope of these spans.
const tracerName = "github.com/ssobroker/ssobroker/idp"

// startSpan starts a span named name for connection c.
func (s *Service) startSpan(ctx context.Context, name string, c directory.Connection) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, name, trace.WithAttributes(
		attribute.String("ssobroker.org.id", c.OrgID),
		attribute.String("ssobroker.connection.id", c.ID),
		attribute.String("ssobroker.connection.type", string(c.Type))))
}

// endSpan ends span, marked failed when err is not nil. The error's text
// is kept (the operator's detail, as in the log), never the IdP's answer.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
