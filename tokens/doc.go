// Package tokens is ssobroker's authorization server: signing keys and their
// rotation, the JWKS and discovery documents, access-token minting (RFC 9068),
// the token endpoint, introspection (RFC 7662) and revocation (RFC 7009).
//
// The core — Keyring and Issuer — knows nothing of HTTP and can be called from
// the command line or other packages; Server wraps it in thin handlers that
// cmd/ssobroker mounts with Routes. Each names only the directory methods it
// uses (KeyStore, IssuerStore).
//
// # Signing keys
//
// Keys are ES256 (default), EdDSA or RS256-3072, made with crypto/* and handled
// as JWKs by lestrrat-go/jwx; the kid is the RFC 7638 SHA-256 thumbprint. The
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
// key (Store.DeleteSigningKey) stops verifying at once.
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
// Failed authentications are limited per client_id by an in-memory token
// bucket (10 failures, then one per second): past it, requests for that
// client_id get 429 temporarily_unavailable with Retry-After before any
// lookup. client_id is not secret, so to keep an attacker from locking a
// client out, a secret that succeeded for the client since its failures
// began still passes. The bucket is per replica.
//
// Introspection and revocation authenticate the same way. A service account
// may introspect only its own org's tokens (others are active:false) and
// revoke only tokens issued to itself (others: 400 unauthorized_client);
// unknown or invalid tokens are 200, as RFC 7009 requires. Revoked jtis
// (Store.RevokeToken) and deleted keys make introspection answer
// active:false at once; services that verify tokens offline see revocation
// only when the token expires.
package tokens
