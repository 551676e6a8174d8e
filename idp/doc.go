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
// enabled connection is used, or the user chooses among several. Nothing
// is stored before the IdP has authenticated someone (docs/security.md,
// "Abuse resistance: sign-in state"): the login state (nonce, PKCE
// verifier, connection, org, authz, return_to, the SAML AuthnRequest ID,
// the hash of the BindingCookie) is sealed (session.Sealer, Options.SealKey,
// the purpose naming its kind and key) into a cookie of this attempt,
// LoginStateCookiePrefix + the state's first 12 characters, Path /sso/,
// LoginStateTTL (10 minutes). The OIDC state and the SAML RelayState stay
// a 43-character random key (RelayState is limited to 80 bytes). At the
// callback the cookie is opened and cleared, the binding and the
// connection checked, the connector completes the protocol, and only then
// is the key spent (Remember of session.KindLoginState or KindSAMLRequest,
// so a copied cookie works once); directory.ProvisionLogin applies JIT and
// group mapping atomically, and by outcome the user gets a session, a
// "waiting for approval" page (200) or a "no invitation" page (403).
// Starting a SAML login signs an AuthnRequest, so each network source
// (Options.Sources) may start Options.SAMLStartsPerMinute (600) a minute,
// burst 100, in a table of at most 10 000 sources; past it: 429.
//
// # Hand-off to tokens
//
// tokens sends the browser to LoginPath?authz=<sealed pending
// authorization> (ValidAuthz: at most MaxAuthzLen characters); idp never
// opens it, it carries authz through the round trip in the login state. A signed
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
