// Package session keeps the broker's short-lived server-side state: browser
// sessions, single-use records (authorization codes), replay caches (spent
// login states, SAML request ids and pending authorizations, SAML assertion
// ids, JWT ids) and refresh-token families; and Sealer, for the state a
// browser carries itself until the user has proven who they are. It
// imports no other package of ours.
//
// # Backends
//
// One Store interface, two implementations, one conformance suite
// (package sessiontest) that both pass:
//
//   - NewRedis: shared by every replica. A single redis:// or rediss:// URL
//     is one node; several comma-separated URLs are Redis Cluster seeds
//     (also redis+cluster://); redis+sentinel:// or a master_name query
//     option is Sentinel. Every key starts with Options.KeyPrefix and has a
//     TTL. Keys used together in a script share a {hash tag}, so everything
//     works on Cluster; the suite runs against a real three-node cluster
//     and a real Sentinel.
//   - NewMemory: in-process, for the embedded single-machine default. Lost
//     on restart (users sign in again). Bounded: beyond Options.MaxEntries
//     records or about Options.MaxBytes bytes, writes fail with ErrFull,
//     which also matches ErrUnavailable (answer 503), rather than letting a
//     flood of login requests exhaust memory. A background sweep drops
//     expired records and stops on Close.
//
// # What is stored
//
// Only SHA-256 hashes of secrets: session ids (256 random bits, so no salt
// or key is needed), refresh tokens, and the keys of single-use and replay
// records (state values, codes, RelayState). A dump of Redis therefore
// yields no usable cookie, token or code. Session.Handle, the hash of the
// id in base64url, is not a secret: log it, list it, use it as `sid`.
// Nothing in this package logs.
//
// # Sessions
//
// GetSession slides the idle expiry (never past AbsoluteExpiry); a session
// past either is ErrNotFound. Per-user indexes ({u:<user>} sorted sets on
// Redis, scored by absolute expiry) let ListUserSessions and
// RevokeUserSessions reach every session of a user; expired entries are
// pruned whenever an index is read or written, and the index itself expires
// with its longest-lived member.
//
// # Single-use records and replay caches
//
// PutOnce/TakeOnce (SET NX PX / GETDEL on Redis) and Remember (SET NX PX)
// are namespaced by Kind and by operation, so a value stored as one kind can
// never be redeemed as another (Keycloak CVE-2026-4282). Recipes:
//
//   - Authorization code replay (RFC 9700: a replayed code revokes what it
//     issued): when issuing a code, choose its family id with NewFamilyID
//     and store it both in the KindAuthCode record and with
//     PutOnce(KindRedeemedCode, code, familyID, same TTL). Redemption takes
//     KindAuthCode and calls CreateRefresh with that ID. When
//     TakeOnce(KindAuthCode) reports ErrNotFound, TakeOnce(KindRedeemedCode,
//     code) yields the family id to RevokeFamily (revoking a family that was
//     never created is harmless).
//   - Login hand-off between tokens and idp: nothing is stored before the
//     user proved who they are (docs/security.md, "Abuse resistance:
//     sign-in state"). tokens seals the request (Sealer, with a random id
//     inside) and sends the browser to /login?authz=<sealed>; idp seals its
//     own login state into a cookie and carries authz through the upstream
//     round trip. After the IdP's answer is verified idp spends its state
//     with Remember(KindLoginState or KindSAMLRequest, state key), creates
//     a browser session (CreateSession) and redirects to
//     /oauth2/authorize/continue?authz=<sealed>, where tokens opens it,
//     reads the session, spends it with Remember(KindPendingAuthorization,
//     id) and issues the code.
//
// # Sealed values
//
// Sealer (sealed.go) seals a value with XChaCha20-Poly1305: the purpose is
// associated data (a value sealed for one purpose never opens as another),
// the expiry is inside, the result is base64url. Sealing gives secrecy,
// integrity and expiry, not single use: callers Remember the value's id
// once the user has proven something.
//
// # Refresh-token families
//
// A token is "<family id>.<256-bit secret>"; the family id in it only
// locates the family, the secret proves possession. RotateRefresh is one
// atomic conditional update (a Lua script on the family's hash slot, or a
// mutex in memory): only the caller presenting the current token gets the
// next one. Presenting a token the family rotated away revokes the whole
// family and returns ErrRefreshReused. A random or forged secret for a live
// family is only ErrNotFound, so knowing a family id does not let anyone
// revoke it. The hashes of the last 1000 rotated tokens are kept for this
// detection; an older one is reported as ErrNotFound.
//
// Concurrent rotations of one token: by default (strict, docs/security.md) one
// wins, the next is reuse, and the family, including the winner's new
// token, is revoked. With Options.RefreshReuseInterval > 0, a token rotated
// less than that interval ago gets ErrRefreshConcurrent instead and the
// winner keeps its new token.
//
// # Cookies
//
// Cookie builds the session cookie (HttpOnly, SameSite=Lax, Path=/, Secure
// on https); CookieName is "sessionToken", the name Opik's backend forwards.
// FromRequest also reads the RFC 2965 form Opik sends
// (`$Version=1;sessionToken=…`).
package session
