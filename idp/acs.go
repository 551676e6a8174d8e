package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/templates"
)

// maxACSBytes bounds a POST to the ACS: a SAMLResponse with a large group
// list and an encrypted assertion stays well below it.
const maxACSBytes = 1 << 20

// bounceField marks an ACS post that our own page re-sent (see samlACS).
const bounceField = "ssb_bounce"

// EntityID returns the broker's SAML entity ID for connection c: the URL of
// its SP metadata.
func (s *Service) EntityID(c directory.Connection) string {
	return s.issuer + "/sso/saml/" + url.PathEscape(c.ID) + "/metadata"
}

// samlMetadata is GET /sso/saml/{conn}/metadata: the SP metadata of a SAML
// connection, signed, for the org's admin to give their IdP. It is public,
// as metadata is; a disabled connection still has it, so that the IdP can
// be set up before the connection is enabled.
func (s *Service) samlMetadata(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.dir.LookupConnection(ctx, r.PathValue("conn"))
	if errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrInvalid) || (err == nil && c.Type != directory.ConnectionSAML) {
		http.Error(w, "no such SAML connection", http.StatusNotFound)
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "SP metadata: connection lookup failed", "connection", r.PathValue("conn"), "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	var md []byte
	conn, err := s.connector(ctx, c)
	if err == nil {
		sc, ok := conn.(SAMLConnector)
		if !ok {
			err = fmt.Errorf("%w: connector has no SAML capability", ErrConfig)
		} else {
			md, err = sc.Metadata(ctx)
		}
	}
	if err != nil {
		s.log.ErrorContext(ctx, "SP metadata unavailable", "connection", c.ID, "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, ErrUpstreamUnavailable) || errors.Is(err, ErrBlockedAddress) {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, "the connection's SP metadata is unavailable: its IdP configuration cannot be used right now", status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/samlmetadata+xml")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Disposition", `inline; filename="ssobroker-`+c.ID+`-metadata.xml"`)
	h.Set("Content-Length", strconv.Itoa(len(md)))
	_, _ = w.Write(md)
}

// samlACS is POST /sso/saml/{conn}/acs, the assertion consumer service.
//
// A solicited response carries the RelayState this browser was given; its
// login state (with the AuthnRequest ID) is sealed in this browser's
// login-state cookie, must have been started by this browser (the binding
// cookie) for this connection, and is spent once the response is verified.
// The IdP posts cross-site, and SameSite=Lax cookies do not travel with a
// cross-site POST: when the login-state cookie is missing, the browser gets
// a page that posts the same form to us again, now same-site, with its
// cookies. A response without our RelayState is IdP-initiated,
// accepted only on connections that opt in.
func (s *Service) samlACS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	connID := r.PathValue("conn")
	r.Body = http.MaxBytesReader(w, r.Body, maxACSBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, failure{status: http.StatusBadRequest, title: "Sign-in failed",
			message: "The answer from your identity provider could not be read.", retry: &loginRequest{},
			log: "unreadable ACS post", err: err, level: slog.LevelWarn}, "connection", connID)
		return
	}
	relay := r.PostForm.Get("RelayState")
	solicited := isToken(relay)
	if solicited && !s.carriesState(r, relay) && r.PostForm.Get(bounceField) == "" {
		fields := url.Values{"SAMLResponse": {r.PostForm.Get("SAMLResponse")}, "RelayState": {relay}, bounceField: {"1"}}
		s.autoPost(w, r, s.base+"/sso/saml/"+url.PathEscape(connID)+"/acs", "Completing your sign-in…", fields, "'self'")
		return
	}
	var st loginState
	if solicited {
		var ok bool
		if st, ok = s.takeState(w, r, session.KindSAMLRequest, relay, connID); !ok {
			return
		}
		if st.Test != "" {
			r = asTest(r, st) // a refusal is the test's result
		}
	}
	c, err := s.dir.LookupConnection(ctx, connID)
	if err != nil && !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrInvalid) {
		s.fail(w, r, storeFailure("connection lookup", err, st.retry()))
		return
	}
	// A test may run before the connection is enabled (conntest.go).
	if err != nil || c.Type != directory.ConnectionSAML || (!c.Enabled && st.Test == "") || (solicited && c.OrgID != st.Org) {
		s.fail(w, r, failure{status: http.StatusForbidden, title: "Sign-in method disabled",
			message: "This sign-in method has been disabled or removed. Ask your administrator.",
			log:     "ACS post for a connection that is gone, disabled, not SAML or moved", level: slog.LevelWarn},
			"connection", connID)
		return
	}
	conn, err := s.connector(ctx, c)
	if err != nil {
		s.fail(w, r, connectorFailure(err, st.retry()), "org", c.OrgID, "connection", c.ID)
		return
	}
	sc, ok := conn.(SAMLConnector)
	if !ok {
		s.fail(w, r, connectorFailure(fmt.Errorf("%w: connector has no SAML capability", ErrConfig), nil), "connection", c.ID)
		return
	}
	if !solicited {
		target, allowed := sc.IdPInitiated()
		if !allowed {
			s.fail(w, r, failure{status: http.StatusBadRequest, title: "Sign-in failed",
				message: "Sign-in must start here, not at your identity provider. Please start again.", retry: &loginRequest{},
				log: "unsolicited SAML response refused: IdP-initiated login is off for this connection", level: slog.LevelWarn},
				"org", c.OrgID, "connection", c.ID, "relay_state_present", relay != "")
			return
		}
		st = loginState{Connection: c.ID, Org: c.OrgID, ReturnTo: target}
	}
	sctx, span := s.startSpan(ctx, spanSAMLACS, c)
	span.SetAttributes(attribute.Bool("ssobroker.saml.idp_initiated", !solicited))
	id, err := sc.HandlePOST(sctx, r, SAMLExpect{RequestID: st.RequestID, ACSURL: s.CallbackURL(c), FirstSeen: s.firstSeen})
	endSpan(span, err)
	if err != nil {
		s.fail(w, r, connectorFailure(err, st.retry()), "org", c.OrgID, "connection", c.ID, "idp_initiated", !solicited)
		return
	}
	if solicited && !s.spendState(w, r, session.KindSAMLRequest, relay, st) {
		return
	}
	if err := s.vouchForEmail(ctx, c, &id); err != nil {
		s.fail(w, r, storeFailure("domain lookup", err, st.retry()))
		return
	}
	if st.Test != "" {
		s.completeTest(w, r, st, c, id) // never provisions (conntest.go)
		return
	}
	// A post our bounce page re-sent must not end in a redirect (see finish).
	s.finish(w, r, st, c, id, r.PostForm.Get(bounceField) != "")
}

// carriesState reports whether r carries the login-state cookie of key (a
// token).
func (s *Service) carriesState(r *http.Request, key string) bool {
	_, ok := session.FromRequest(r, stateCookieName(key))
	return ok
}

// firstSeen is the SAML assertion replay cache: the session store (Redis
// when configured), shared by every replica.
func (s *Service) firstSeen(ctx context.Context, issuer, assertionID string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	key := strconv.Itoa(len(issuer)) + ":" + issuer + assertionID
	return s.sessions.Remember(ctx, session.KindSAMLAssertion, key, ttl)
}

// vouchForEmail decides whether a SAML identity's email counts as verified.
// SAML has no email_verified: unless the connection maps an attribute to
// it, the email is verified when its domain is one the connection's org
// proved it owns (a verified domain), since that org's IdP is then the
// authority for the address.
func (s *Service) vouchForEmail(ctx context.Context, c directory.Connection, id *Identity) error {
	if id.EmailVerified {
		return nil
	}
	cfg, err := ParseConnectionConfig(c.Config)
	if err != nil || cfg.AttributeMapping["email_verified"] != "" {
		return nil // the mapped attribute decided (finish reports a bad config)
	}
	d, err := s.dir.FindVerifiedDomain(ctx, emailDomain(id.Email))
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrInvalid):
		return nil
	case err != nil:
		return err
	}
	id.EmailVerified = d.OrgID == c.OrgID
	return nil
}

// autoPost answers with a page that posts fields to action by itself (a
// click without scripts). Its policy allows exactly that script, and forms
// to formAction: "'self'" for a post to us; "*" for a post to an IdP, whose
// answer may redirect anywhere (browsers apply form-action to those
// redirects too), the form's target being ours to fix, not the page's.
func (s *Service) autoPost(w http.ResponseWriter, r *http.Request, action, message string, fields url.Values, formAction string) {
	w.Header().Set("Content-Security-Policy", templates.AutoPostPolicy(formAction))
	s.render(w, r, http.StatusOK, "post", templates.NewAutoPost(action, message, fields))
}
