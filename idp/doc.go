// Package idp signs users in through their organization's upstream identity
// provider: home-realm discovery, the round trip to the IdP, just-in-time
// provisioning in the directory, and the browser session.
//
// # Connectors
//
// Each protocol is a package behind small capability interfaces, as in Dex:
// a CallbackConnector (redirect out, callback in: package idp/oidc) or a
// SAMLConnector (POST-binding ACS; the service keeps the AuthnRequest ID and
// gives it back as SAMLExpect.RequestID). Every connector returns the same
// Identity. The wiring maps connection types to factories in a Registry:
//
//	idp.Registry{directory.ConnectionOIDC: oidc.New}
//
// A connector is built from a directory.Connection (its configuration
// parsed, its secret opened with the deployment's secret box, the
// connection id as associated data) and cached per connection. Every use
// re-reads the connection, so a changed, disabled or deleted connection is
// never used from the cache; directory change notifications also sweep the
// cache so secrets of removed connections leave memory.
//
// # The login
//
//	GET  /login[?authz=…][&login_hint=…][&organization=…][&prompt=login][&return_to=…]
//	POST /login                       email form (double-submit CSRF)
//	GET  /login/{org}[?connection=…]  an org's sign-in methods
//	GET  /sso/oidc/{conn}/callback
//	GET  /login/done · POST /logout
//
// The email's domain names the org (directory.FindVerifiedDomain); its one
// enabled connection is used, or the user chooses among several. The
// login state (state → nonce, PKCE verifier, connection, org, authz,
// return_to) is stored server-side as a single-use record
// (session.KindLoginState, 10 minutes) and bound to the browser by a cookie
// whose hash the state records. At the callback the state is taken once,
// the binding and the connection checked, the connector completes the
// protocol, directory.ProvisionLogin applies JIT and group mapping
// atomically, and by outcome the user gets a session, a "waiting for
// approval" page (200) or a "no invitation" page (403).
//
// # Hand-off to tokens
//
// tokens sends the browser to LoginPath?authz=<id>; idp never reads the
// pending authorization, it carries authz through the round trip. A signed
// in member gets the session cookie SessionCookie ("sessionToken";
// HttpOnly, SameSite=Lax, Path=/, Secure on an https issuer) and a 303 to
// ContinuePath?authz=<id>. Without authz the login ends at a validated
// return_to (a relative path, never "//", "/\" or a scheme) or at
// LoginDonePath.
//
// # Failures
//
// The user sees a generic page with a short reference; the operator's log
// line (log/slog) carries the same reference and the precise reason. No
// code, token, state, cookie value or secret is logged.
package idp
