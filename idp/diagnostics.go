package idp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// Sign-in diagnostics: every failed sign-in through a connection is kept for
// the org's admin (the connection's last failures, with a stable reason
// code and the reference the user was shown) and counted by connection and
// reason for the operator.

// The classes of a failure's cause, as the user's page and the admin see it.
const (
	// CauseAvailability: the IdP or one of our stores could not be used;
	// trying again later may work.
	CauseAvailability = "availability"
	// CausePolicy: a rule refused the sign-in (an invitation is missing, an
	// email is not verified, the connection is disabled).
	CausePolicy = "policy"
	// CauseConfiguration: the connection's configuration is unusable.
	CauseConfiguration = "configuration"
	// CauseResponse: the IdP's answer failed a check (signature, audience,
	// replay, state…).
	CauseResponse = "response"
)

// SignInFailure is one failed sign-in through a connection.
type SignInFailure struct {
	OrgID, ConnectionID string
	// Reason is a stable code: saml.audience, saml.signature, saml.replay,
	// oidc.state, oidc.email_unverified, jit.invite_only,
	// jit.pending_approval, upstream.unreachable, …
	Reason string
	// Reference is what the user's page showed and the log line carries.
	Reference string
	// Cause is CauseAvailability, CausePolicy, CauseConfiguration or
	// CauseResponse.
	Cause string
	At    time.Time
}

// FailureRecorder keeps and counts sign-in failures. It must not block the
// user's page for long and reports nothing back: a failure to record is
// its own to log.
type FailureRecorder interface {
	RecordSignInFailure(ctx context.Context, f SignInFailure)
}

// protocolOf names the protocol of a sign-in request by its path.
func protocolOf(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/sso/saml/"), strings.Contains(r.URL.Path, "/sso/saml/"):
		return "saml"
	case strings.Contains(r.URL.Path, "/sso/oidc/"):
		return "oidc"
	}
	return "login"
}

// failureReason classifies f into a stable reason code and its cause.
func failureReason(r *http.Request, f failure) (reason, cause string) {
	proto := protocolOf(r)
	err := f.err
	var up *UpstreamError
	switch {
	case errors.As(err, &up):
		return "upstream.error", CausePolicy
	case errors.Is(err, ErrEmailNotVerified):
		return proto + ".email_unverified", CausePolicy
	case errors.Is(err, ErrMissingClaim):
		return proto + ".missing_claim", CauseResponse
	case errors.Is(err, ErrUpstreamUnavailable), errors.Is(err, ErrBlockedAddress):
		return "upstream.unreachable", CauseAvailability
	case errors.Is(err, directory.ErrUnavailable), errors.Is(err, session.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "store.unavailable", CauseAvailability
	case errors.Is(err, ErrConfig):
		return "config.invalid", CauseConfiguration
	case errors.Is(err, ErrInvalidResponse):
		return proto + "." + responseReason(err.Error()), CauseResponse
	case errors.Is(err, directory.ErrInvalid):
		return "jit.invalid_identity", CausePolicy
	}
	log := f.log
	switch {
	case strings.Contains(log, "state"):
		return proto + ".state", CauseResponse
	case strings.Contains(log, "browser binding"):
		return proto + ".browser_binding", CauseResponse
	case strings.Contains(log, "unsolicited"):
		return proto + ".unsolicited", CausePolicy
	case strings.Contains(log, "disabled"), strings.Contains(log, "gone"):
		return "connection.disabled", CausePolicy
	case f.status == http.StatusServiceUnavailable:
		return "store.unavailable", CauseAvailability
	case f.status == http.StatusTooManyRequests:
		return "rate_limited", CauseAvailability
	case f.status >= 500:
		return "internal", CauseAvailability
	}
	return proto + ".refused", CausePolicy
}

// responseReason names what an IdP's answer failed, from the connector's
// message.
func responseReason(msg string) string {
	m := strings.ToLower(msg)
	for _, k := range []struct{ word, reason string }{
		{"replay", "replay"}, {"already used", "replay"}, {"audience", "audience"}, {"signature", "signature"},
		{"signed", "signature"}, {"digest", "signature"}, {"certificate", "signature"}, {"nonce", "nonce"},
		{"state", "state"}, {"inresponseto", "in_response_to"}, {"unsolicited", "unsolicited"},
		{"expired", "expired"}, {"notonorafter", "expired"}, {"notbefore", "not_yet_valid"},
		{"destination", "destination"}, {"recipient", "recipient"}, {"issuer", "issuer"},
		{"token endpoint", "code_exchange"}, {"doctype", "malformed"}, {"not well-formed", "malformed"},
	} {
		if strings.Contains(m, k.word) {
			return k.reason
		}
	}
	return "invalid_response"
}

// attrString returns the string value of key in slog-style attrs.
func attrString(attrs []any, key string) string {
	for i := 0; i+1 < len(attrs); i += 2 {
		if k, ok := attrs[i].(string); ok && k == key {
			if v, ok := attrs[i+1].(string); ok {
				return v
			}
		}
	}
	return ""
}

// noteFailure hands a failure of connection connID to the recorder, if any
// (the recorder keeps it only for an existing connection of orgID, when
// orgID is set).
func (s *Service) noteFailure(ctx context.Context, orgID, connID, reason, cause, ref string) {
	if s.opts.Failures == nil || connID == "" || len(connID) > 100 {
		return
	}
	s.opts.Failures.RecordSignInFailure(context.WithoutCancel(ctx), SignInFailure{OrgID: orgID, ConnectionID: connID,
		Reason: reason, Reference: ref, Cause: cause, At: s.now()})
}

// causeSentence is what the user's page says about the cause.
func causeSentence(cause string) string {
	switch cause {
	case CauseAvailability:
		return "Cause: availability — a service could not be reached; trying again later may work."
	case CausePolicy:
		return "Cause: policy — a rule of your organization or identity provider refused this sign-in; trying again will not help, ask your administrator."
	case CauseConfiguration:
		return "Cause: configuration — the sign-in method is set up wrongly; ask your administrator."
	case CauseResponse:
		return "Cause: the answer from your identity provider was refused; if starting again does not help, ask your administrator."
	}
	return ""
}
