// Package tokens is ssobroker's authorization server and OpenID provider:
// signing keys and their rotation, the JWKS and discovery documents,
// access-token minting (RFC 9068), the token endpoint, introspection (RFC
// 7662), revocation (RFC 7009), and — in Provider — the authorization-code
// flow for registered clients with ID tokens, refresh tokens, userinfo and
// RP-initiated logout.
//
// This package is the core — Keyring, Issuer and Provider (authorization,
// grants, userinfo, logout) — and it does not import net/http (a test in
// cmd/ssobroker enforces it): everything is callable from the command line
// or other packages. Package tokens/oauth is its HTTP surface: forms,
// headers, cookies, pages and the HTTP status of every Error, in thin
// handlers that cmd/ssobroker mounts with oauth.Server.Routes. Each names
// only the directory and session methods it uses (KeyStore, IssuerStore,
// ProviderDirectory, SessionStore).
//
// # Signing keys
//
// Keys are ES256 (default), EdDSA or RS256-3072, made with crypto/* and handled
// as JWKs by lestrrat-go/jwx; the kid is the RFC 7638 SHA-256 thumbprint.
// ID tokens are signed in a second lane of keys, RS256-2048 by default
// (KeyConfig.IDTokenAlgorithm; see "ID tokens" below), with the same
// lifecycle; the lanes are told apart by algorithm. The
// private JWK is sealed with directory/secretbox (AES-256-GCM under
// SSOBROKER_SECRET_KEY, associated data "ssobroker signing key <kid>") before
// it reaches the store, and checked against its kid when loaded.
//
// A key lives next → active → retired. Rotate, the one place keys change, runs
// in every replica (Keyring.Run, every KeyConfig.RotationCheck) and from
// `ssobroker keys rotate` (ForceRotate); every change is a compare-and-swap
// in the store, so replicas agree. With the defaults:
//
//   - a next key is published at least PublishLead (1 h) before it signs —
//     more than the JWKS max-age (5 min) plus a replica's reload interval
//     (10 s), so every verifier has it before it sees a token it signed;
//   - the active key signs for RotateEvery (24 h);
//   - a retired key stays published after it stopped signing for the sum of
//     MaxTokenTTL (10 min), Leeway (1 min) and ReloadInterval (10 s), then is
//     deleted;
//   - with no active key (a new deployment, or after an emergency deletion)
//     the oldest next key, or a new one, is activated at once. Replicas
//     racing to bootstrap each insert a next key and activate the oldest they
//     see; if two activations still happen, every replica signs with the
//     newest active key and Rotate retires the others.
//
// Replicas reload the key set on the store's change notifications and every
// ReloadInterval. What requests need — the parsed active key with its
// pre-encoded JWS header, the public keys, the serialized JWKS and its ETag —
// is one immutable value behind an atomic pointer: the request path takes no
// lock. Introspection reloads first when the store has changed, so a deleted
// key (Store.DeleteSigningKey) stops verifying at once — also a token whose
// signature check the Issuer has cached (verified.go: keyed by the SHA-256
// of the token's bytes, at most 4096 tokens, each dropped at its exp, kept
// only while the key that verified it is published; the claims are checked
// and revocation and standing asked on every request).
//
// # Access tokens
//
// Header {"alg","kid","typ":"at+jwt"}; claims are verify.Claims (iss, sub, aud,
// exp, iat, jti of 128 random bits, client_id, scope, name, principal_type,
// org {id, name, role, only_admins_can_invite}, workspaces [{id, name, role,
// can_invite, can_make_public}], default_workspace) plus workspaces_truncated
// and workspace (narrowing), built from Store.PrincipalAccess at issue time.
// The default workspace is listed first. aud is IssuerConfig.Audience, or
// the client's own id when that is empty.
//
// Narrowing: workspace=<name> (or "default") restricts a token to one
// workspace — its membership is the only one listed, and the "workspace"
// claim names it. A member may narrow to a workspace they belong to, an org
// admin to any workspace of the org; anything else — not a member, unknown,
// another org's — is invalid_scope with one description, so the answer does
// not reveal which workspaces exist. (invalid_scope, not invalid_request:
// the request is well formed but asks for more than the principal holds,
// RFC 6749 §5.2.)
//
// Size: a token lists at most IssuerConfig.MaxTokenWorkspaces (30)
// memberships, and fewer when long names would push its claims past 5400
// bytes; when any are left out, workspaces_truncated is true and the service
// must ask ssobroker (or the client narrows its token). A token is therefore
// never longer than MaxAccessTokenBytes (8000), which fits an 8 KiB request
// header line. For 200 memberships with 63-character names the full list
// would make a 44.8 kB token; capped it is 7.4 kB.
//
// # Token endpoint
//
// grant_type=client_credentials for service accounts: client_id sa_…,
// client_secret an API key ssb_…, by client_secret_basic (both parts
// form-urlencoded, RFC 6749 §2.3.1) or client_secret_post, not both. The key
// is found by its SHA-256 (Store.LookupAPIKey, cached) and must belong to
// client_id (constant-time comparison). Errors are RFC 6749 §5.2 bodies with
// Cache-Control: no-store: invalid_request 400, invalid_client 401 (with
// WWW-Authenticate: Basic when Basic was used or no credentials were sent),
// invalid_grant, invalid_scope, unsupported_grant_type 400, 503 when the
// store is down.
//
// A correct secret is never refused. The secret is checked first; only a
// failed authentication reaches the failure limiter, which counts it per
// (source, client) and per source (session.Sources: the peer, or the
// client behind trusted proxies) in fixed windows of the session store
// (IssuerConfig.FailureCounter, shared by replicas on Redis): past 10
// failures of the pair or 100 of the source in a minute, further failures
// get 429 temporarily_unavailable with Retry-After instead of 401. An
// attacker's failures thus never lock a client out, nor spend the budget
// of the client's own address. When the store cannot count, the replica
// counts locally and logs it (Issuer.LimiterStats). The same holds at
// introspection and revocation. See docs/security.md ("Abuse resistance").
//
// Introspection authenticates service accounts the same way; they may
// introspect only their own org's tokens (others are active:false).
// Revocation (RFC 7009) serves every client type: service accounts,
// confidential registered clients by secret, public ones by client_id. A
// client revokes its own access tokens (the jti goes to Store.RevokeToken)
// and refresh tokens (the family ends); another client's access token is
// 400 unauthorized_client and stays valid, another client's refresh token
// has leaked and its family ends; unknown or invalid tokens are 200, as RFC
// 7009 requires. Revoked jtis and deleted keys make introspection answer
// active:false at once; services that verify tokens offline see revocation
// only when the token expires.
//
// # OpenID provider
//
// Provider serves registered clients (directory Client: cli_ id, hashed
// secret or public, exact redirect URIs, allowed grant types). Clients are
// first-party: no consent is asked, and prompt=consent is satisfied at once.
//
// /oauth2/authorize (GET or POST; OIDC Core §3.1.2). Until client_id is a
// registered client and redirect_uri one of its registered URIs, compared
// byte for byte, errors are an HTML page (400), never a redirect. After,
// errors go to the redirect URI with error, error_description, state and iss
// (RFC 9207). Rules: response_type=code only (response_mode query);
// request and request_uri refused; scope values openid, profile, email,
// offline_access and ssobroker:admin (ScopeAdmin, only for clients
// registered with AdminAPI), anything else invalid_scope (offline_access is
// dropped for clients without the refresh_token grant); PKCE S256 required for public
// clients, accepted for confidential ones, plain refused; state, nonce,
// login_hint bounded in size; prompt none|login|consent|select_account
// (select_account and max_age=0 force a sign-in like login); max_age;
// organization (id or name: the token is for that one org); workspace
// (narrows the tokens, as at the token endpoint). A usable browser session
// — the sessionToken cookie names a live session, no fresh sign-in is forced,
// max_age holds and its org is the one asked for — gets its code at once.
// Otherwise prompt=none is login_required; anything else becomes a pending
// authorization that is not stored (docs/security.md, "Abuse resistance:
// sign-in state"): the validated request, a random 128-bit id and the
// SHA-256 of the browser's AuthzCookie (a random value, compared in
// constant time) are sealed (session.Sealer under ProviderConfig.SealKey,
// expiring after PendingTTL, 10 min) into the authz value, at most
// MaxAuthzLen (2400) characters, else invalid_request. The browser goes to
// PathLogin?authz=…[&login_hint][&organization=<org id>][&prompt=login] —
// package idp. After the sign-in idp creates the session and sends the
// browser to PathAuthorizeContinue?authz=…, which opens the value, checks
// the binding, re-checks the client and redirect URI, reads the session (it
// must exist; with prompt=login its auth_time must follow the request;
// max_age and the org must hold), spends the id once
// (Remember of session.KindPendingAuthorization: a replayed continuation is
// refused) and issues the code.
//
// Codes: 256 random bits, single use (TakeOnce of session.KindAuthCode),
// CodeTTL ≤ 60 s, bound to the client, the redirect URI, the PKCE challenge,
// the nonce, the session handle, user, org, connection, scope, workspace,
// auth_time and amr. When a code is made, the ids of what its redemption
// will issue — the access token's jti and, with offline_access, the
// refresh-token family — are stored under session.KindRedeemedCode (for
// CodeTTL + AccessTokenTTL + Leeway). A code presented again is
// invalid_grant and revokes that family and jti (RFC 6749 §4.1.2, RFC 9700
// §4.2.4); because the record exists before the first redemption finishes,
// even a replay racing it revokes. A code of another client, another
// redirect URI, a wrong or missing verifier, or a verifier for a code issued
// without a challenge is invalid_grant, and the code is spent.
//
// The token endpoint authenticates cli_ clients: confidential ones by
// client_secret_basic or client_secret_post (SHA-256 of the secret compared
// in constant time with directory.HashSecret's), public ones by client_id
// alone (auth method "none"; PKCE binds their codes). A public client
// sending a secret, or a confidential one sending none, is invalid_client;
// failures count in the failure limiter (a public client sending a secret
// is refused without counting). A grant type the client is not registered
// for is unauthorized_client.
//
// Standing: at every code, every redemption and every refresh the user must
// still be a member of the org, the org must exist and the connection they
// signed in through must exist, be the org's and be enabled
// (directory.SessionStanding, the one check every session surface makes;
// authentik GHSA-9g4j-v8w5-7x42). A session opened by an operator's sign-in
// link (directory.LinkConnection) gets no codes: tokens name the IdP. A refresh that fails this revokes
// its family; an authorization with a session that fails it sends the user
// to sign in again. Roles, workspaces, name and email are read at every
// issuance.
//
// Refresh tokens are issued to clients that may use the refresh_token grant:
// with offline_access an offline family that lives RefreshTokenTTL (30 days)
// from the sign-in (OIDC Core §11); with openid but without offline_access a
// session-bound family that ends at the browser session's absolute expiry at
// the latest (as Keycloak's). Logout ends the families granted in the browser
// session except offline_access ones, which by definition outlive it; a
// client ends those with /oauth2/revoke, and member removal ends all.
// Rotation never extends a family. The refresh grant
// reads the family, checks it belongs to the client (a token presented by
// another client has leaked: its family is revoked), that the scope asked for
// is within the family's (narrowing only; the family keeps its scope), and
// the user's standing — and only then rotates it atomically
// (session.RotateRefresh), so a directory outage never burns a token the
// client still holds. A rotated token presented again revokes the family
// (the session store does it); every failure is invalid_grant.
//
// Access tokens of users carry sub usr_…, aud and client_id the client
// (aud also {issuer}/api/v1 with ScopeAdmin, which a refresh drops once the
// client is no longer allowed it: docs/security.md),
// scope, sid (the session Handle), email and name (always: the platform's
// services read them), idp (connection id), amr, org, workspaces and
// default_workspace, encoded like service-account tokens.
//
// # ID tokens
//
// OIDC Core §2 and §3.1.3.6, header {"alg","kid","typ":"JWT"}: iss, sub,
// aud and azp (the client), exp (IDTokenTTL, 10 min), iat, auth_time, nonce
// (code flow only, not after a refresh), amr, sid, at_hash (left half of
// SHA-256 of the access token; SHA-512 for EdDSA), email and email_verified
// with the email scope, name with profile, and org {id, name, role}. An
// ID token comes with every token response whose scope has openid,
// refreshes included.
//
// Signing: OpenID Connect Discovery requires RS256 in
// id_token_signing_alg_values_supported, and RS256 is what relying parties
// assume when nothing else was registered (OIDC Registration's default for
// id_token_signed_response_alg); clients here register no algorithm. So by
// default ID tokens are signed with RS256 from their own key lane, while
// access tokens keep the deployment's algorithm (ES256 by default), and
// discovery lists exactly ["RS256"]. The lane's keys are RSA-2048, which
// signs in 0.74 ms against 2.3 ms for 3072 bits on the reference machine
// (ID tokens come with every refresh) and are rotated daily. Setting
// KeyConfig.IDTokenAlgorithm to the access-token algorithm signs ID tokens
// with the access-token key instead (one lane, faster, but discovery then
// lists only that algorithm, which OIDC Discovery does not allow).
//
// # Userinfo and logout
//
// /oauth2/userinfo (GET or POST): the access token in Authorization: Bearer
// or, with POST, the access_token form field (never the query); it must be
// valid as VerifyAccessToken checks it (revoked jti: 401), a user's, with
// openid, and the user still a member. The answer: sub, email and
// email_verified (email scope), name (profile), org, workspaces and
// default_workspace as they are now. Errors carry WWW-Authenticate: Bearer
// (RFC 6750 §3). Userinfo and the token endpoint allow any CORS origin:
// they take no cookies.
//
// /oauth2/logout (GET or POST; RP-Initiated Logout 1.0): id_token_hint is
// checked against our published keys (expired by at most LogoutHintGrace,
// an hour, accepted; older, another issuer or typ refused with a page);
// post_logout_redirect_uri must equal one of the
// client's registered redirect URIs (the client is client_id or the hint's
// aud; the two must agree). A request whose hint names the signed-in user
// deletes the session — after ending its refresh families that lack
// offline_access (Store.RevokeSessionFamilies) — and clears its cookie at
// once; any other request with
// a session is confirmed on a page first (a POST with a double-submit token,
// LogoutCookie), so a link elsewhere cannot sign a user out. Then the
// browser goes to the redirect URI with state, or sees "signed out" — an
// unregistered URI is never followed.
package tokens
