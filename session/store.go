package session

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Errors returned by every Store. Callers test them with errors.Is; the
// errors actually returned wrap them with context.
var (
	// ErrNotFound: the session, single-use record or refresh token does not
	// exist, has expired, was already taken, or was revoked.
	ErrNotFound = errors.New("session: not found")
	// ErrExists: PutOnce found a live record under the same kind and key, or
	// CreateRefresh was given the ID of a live family.
	ErrExists = errors.New("session: already exists")
	// ErrInvalid: an argument is malformed (empty user ID, unknown kind
	// syntax, non-positive TTL, value too large, expiry in the past).
	ErrInvalid = errors.New("session: invalid argument")
	// ErrUnavailable: the backing store cannot be reached or refused the
	// operation (Redis down, timeouts, out of memory, store closed). HTTP
	// handlers answer 503.
	ErrUnavailable = errors.New("session: store unavailable")
	// ErrFull: the in-process store reached Options.MaxEntries or
	// Options.MaxBytes. Errors carrying it also match ErrUnavailable.
	ErrFull = errors.New("session: in-process store full")
	// ErrRefreshReused: a refresh token that was already rotated was
	// presented again. The whole family has been revoked by the time this is
	// returned (RFC 9700 §4.14.2).
	ErrRefreshReused = errors.New("session: refresh token reused; family revoked")
	// ErrRefreshConcurrent: with Options.RefreshReuseInterval > 0, the token
	// presented was rotated less than that interval ago by a concurrent
	// request. The family stays valid; this request is refused (invalid_grant)
	// and the request that rotated it keeps its new token.
	ErrRefreshConcurrent = errors.New("session: refresh token rotated concurrently")
)

// Store keeps browser sessions, single-use records, replay-cache entries and
// refresh-token families. Implementations: *Memory (in-process) and *Redis.
// All methods are safe for concurrent use. Every conformance rule is in
// package sessiontest.
type Store interface {
	// CreateSession stores a new session for s.UserID and returns it with
	// ID, Handle, CreatedAt and LastSeen set, and IdleTimeout and
	// AbsoluteExpiry defaulted from Options when zero. s.ID is ignored.
	// Fails with ErrInvalid (empty or malformed UserID, expiry in the past,
	// too large), ErrFull or ErrUnavailable.
	CreateSession(ctx context.Context, s Session) (Session, error)
	// GetSession returns the session whose cookie value is id and extends
	// its idle expiry (never past AbsoluteExpiry). ErrNotFound when unknown,
	// malformed, deleted, or expired by idle or absolute timeout.
	GetSession(ctx context.Context, id string) (Session, error)
	// DeleteSession removes the session (logout). Deleting an unknown or
	// expired session is not an error. Fails only with ErrUnavailable.
	DeleteSession(ctx context.Context, id string) error
	// ListUserSessions returns the live sessions of a user, oldest first,
	// with Handle set and ID empty (only hashes of ids are stored). Expired
	// entries found in the per-user index are removed from it. ErrInvalid
	// for a malformed user ID, ErrUnavailable.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// RevokeUserSessions deletes every live session of a user and returns
	// how many there were. A session created concurrently with the call may
	// survive it. ErrInvalid, ErrUnavailable.
	RevokeUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteSessionByHandle removes the session of userID whose Handle is
	// handle (an upstream logout names sessions by handle: the store keeps
	// no ids) and reports whether a live one was there. An unknown handle,
	// or one of another user, is not an error and deletes nothing.
	// ErrInvalid (malformed user ID), ErrUnavailable.
	DeleteSessionByHandle(ctx context.Context, userID, handle string) (bool, error)
	// TagSession files the session of userID whose Handle is handle under
	// tag until expires (tagged.go), for SessionsTagged to find.
	// ErrInvalid (empty or too long tag, malformed user ID or handle,
	// expiry in the past), ErrFull, ErrUnavailable.
	TagSession(ctx context.Context, tag, userID, handle string, expires time.Time) error
	// SessionsTagged returns the sessions filed under tag whose entry has
	// not expired, in no particular order. The sessions themselves may have
	// ended since. ErrInvalid, ErrUnavailable.
	SessionsTagged(ctx context.Context, tag string) ([]TaggedSession, error)

	// PutOnce stores value under (kind, key) for ttl, to be taken once.
	// ErrExists when a live record is already there (it is not replaced),
	// ErrInvalid (bad kind, empty key, ttl <= 0, value too large), ErrFull,
	// ErrUnavailable.
	PutOnce(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) error
	// TakeOnce atomically returns and deletes the record stored under
	// (kind, key): of any number of concurrent callers, at most one gets it.
	// ErrNotFound when absent, expired, already taken, or stored under
	// another kind. ErrInvalid, ErrUnavailable.
	TakeOnce(ctx context.Context, kind Kind, key string) ([]byte, error)
	// Remember records (kind, key) for ttl and reports whether this call was
	// the first to do so while no live record existed (SET NX). Exactly one
	// of any number of concurrent callers gets true. ErrInvalid,
	// ErrFull, ErrUnavailable (then first is false).
	Remember(ctx context.Context, kind Kind, key string, ttl time.Duration) (first bool, err error)

	// CreateRefresh stores a new refresh-token family and returns its first
	// token. family.ID is generated when empty (read it back with
	// RotateRefresh or GetRefresh, or set it yourself with NewFamilyID);
	// ExpiresAt defaults to now + Options.RefreshLifetime. ErrExists when
	// the ID is taken, ErrInvalid, ErrFull, ErrUnavailable.
	CreateRefresh(ctx context.Context, family RefreshFamily) (token string, err error)
	// RotateRefresh exchanges the family's current token for a new one in
	// one atomic step and returns the family and the new token.
	// ErrRefreshReused (family revoked; the returned family describes it for
	// the audit log) when token had already been rotated; ErrRefreshConcurrent
	// (see Options.RefreshReuseInterval); ErrNotFound when unknown, malformed,
	// expired or revoked; ErrUnavailable.
	RotateRefresh(ctx context.Context, token string) (RefreshFamily, string, error)
	// GetRefresh returns the family whose current token is token, without
	// rotating (for introspection and revocation endpoints). ErrNotFound for
	// anything else, including rotated tokens; ErrUnavailable.
	GetRefresh(ctx context.Context, token string) (RefreshFamily, error)
	// RevokeFamily deletes a family: none of its tokens work afterwards.
	// Revoking an unknown family is not an error. ErrUnavailable.
	RevokeFamily(ctx context.Context, familyID string) error
	// RevokeUserFamilies revokes every live family of a user (member removed
	// from an org, account disabled) and returns how many there were. A
	// family created concurrently may survive; token issuance re-checks
	// membership anyway. ErrInvalid, ErrUnavailable.
	RevokeUserFamilies(ctx context.Context, userID string) (int, error)

	// RevokeSessionFamilies revokes the live families of userID that were
	// granted in the browser session whose Handle is sessionHandle
	// (RefreshFamily.SessionID), and returns how many it revoked. With
	// keepOffline, families whose Scope contains "offline_access" are kept:
	// offline access outlives the browser session (OIDC Core §11), so
	// RP-initiated logout passes true. A family created concurrently may
	// survive. ErrInvalid (malformed user ID, empty handle), ErrUnavailable.
	RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error)

	// Count adds one to the fixed-window counter of (kind, key) and returns
	// its new value and the time until its window ends. The first count
	// after a window ended starts a new window of length window at 1 (its
	// length is set by that first call). Counters are namespaced by kind
	// like single-use records, apart from them. On Redis one key, INCR and
	// PEXPIRE in one script (atomic, Cluster-safe), shared by every replica;
	// Memory keeps at most Options.MaxCounters and evicts the oldest window
	// when full rather than refusing (see LocalCounters). ErrInvalid (bad
	// kind, empty key, window < 1 ms), ErrUnavailable.
	Count(ctx context.Context, kind Kind, key string, window time.Duration) (n int64, resetIn time.Duration, err error)

	// Ping checks that the store answers (readiness). ErrUnavailable.
	Ping(ctx context.Context) error
	// Close releases the store; later calls fail with ErrUnavailable.
	// Closing twice is not an error.
	Close() error
}

// Session is a browser session. The cookie carries ID; the store keeps only
// a SHA-256 hash of it.
type Session struct {
	// ID is the opaque cookie value: 32 random bytes, base64url (43
	// characters). Empty in ListUserSessions results.
	ID string
	// Handle is base64url(SHA-256(ID)): not a credential, safe to log, to
	// show in admin lists and to use as the OIDC `sid` claim.
	Handle       string
	UserID       string
	OrgID        string
	ConnectionID string
	// AMR lists the authentication methods (RFC 8176), e.g. "saml", "pwd".
	AMR []string
	// AuthTime is when the user last authenticated upstream (OIDC
	// auth_time); defaults to CreatedAt.
	AuthTime  time.Time
	CreatedAt time.Time
	// LastSeen is the time of the last GetSession (or creation).
	LastSeen time.Time
	// AbsoluteExpiry ends the session however active it is.
	AbsoluteExpiry time.Time
	// IdleTimeout ends the session when no GetSession happened for that
	// long.
	IdleTimeout time.Duration
	// Data holds small caller-defined values; fixed at creation.
	Data map[string]string
}

// RefreshFamily is the grant behind a chain of rotated refresh tokens. The
// store keeps SHA-256 hashes of its tokens, never the tokens.
type RefreshFamily struct {
	// ID is a random opaque id ([A-Za-z0-9_-], at most 64 characters).
	ID       string
	UserID   string
	OrgID    string
	ClientID string
	Scope    string
	// SessionID is the browser session's Handle (the `sid` claim), never
	// its cookie value.
	SessionID string
	AuthTime  time.Time
	// Claims is an opaque snapshot the token service needs to mint tokens.
	Claims    []byte
	CreatedAt time.Time
	// ExpiresAt is the absolute end of the family (default 30 days).
	ExpiresAt time.Time
	// Generation counts rotations: 0 for the first token.
	Generation int64
	// RotatedAt is the time of the last rotation (zero before the first).
	RotatedAt time.Time
}

// Kind namespaces single-use and replay records so that a value stored as
// one kind can never be redeemed as another (Keycloak CVE-2026-4282). Custom
// kinds must match [a-z0-9_]{1,32}.
type Kind string

// Kinds used by the broker.
const (
	// KindLoginState: state, nonce, PKCE verifier and return URL of an
	// upstream login, keyed by the state parameter.
	KindLoginState Kind = "login_state"
	// KindAuthCode: an authorization code issued by the broker (≤ 60 s).
	KindAuthCode Kind = "auth_code"
	// KindRedeemedCode: written when a code is redeemed, holding what it
	// issued (the family id), so that a replayed code can revoke it.
	KindRedeemedCode Kind = "redeemed_code"
	// KindSAMLRequest: a pending SAML AuthnRequest ID, keyed by RelayState.
	KindSAMLRequest Kind = "saml_request"
	// KindSAMLAssertion: replay cache of (issuer, assertion ID), with
	// Remember, until NotOnOrAfter plus skew.
	KindSAMLAssertion Kind = "saml_assertion"
	// KindPendingAuthorization: an /oauth2/authorize request waiting for the
	// upstream login.
	KindPendingAuthorization Kind = "pending_authz"
	// KindCompletedAuthorization: a pending authorization the upstream
	// login completed, waiting for the token service to issue its code.
	KindCompletedAuthorization Kind = "completed_authz"
	// KindJTI: replay cache of JWT ids (client assertions, logout tokens).
	KindJTI Kind = "jti"
	// KindFailedAuth counts failed client authentications per (source,
	// client) with Count.
	KindFailedAuth Kind = "failed_auth"
	// KindFailedAuthSource counts failed client authentications per source
	// across all clients with Count.
	KindFailedAuthSource Kind = "failed_auth_source"
)

// Options configures both stores. The zero value is usable.
type Options struct {
	// KeyPrefix starts every Redis key (default "ssb:"). Tests use a
	// random one. At most 64 characters, no '{' or '}'. Ignored by Memory.
	KeyPrefix string
	// SessionIdleTimeout is the default Session.IdleTimeout (default 8h).
	SessionIdleTimeout time.Duration
	// SessionLifetime sets the default Session.AbsoluteExpiry to
	// CreatedAt + SessionLifetime (default 24h).
	SessionLifetime time.Duration
	// RefreshLifetime sets the default RefreshFamily.ExpiresAt (default 30
	// days).
	RefreshLifetime time.Duration
	// RefreshReuseInterval, when > 0, lets the token rotated last be
	// presented again for this long after its rotation without revoking the
	// family: that request gets ErrRefreshConcurrent. Default 0: strict,
	// any reuse revokes the family (docs/security.md).
	RefreshReuseInterval time.Duration
	// MaxValueBytes bounds one record: a PutOnce value, a session's strings
	// and Data, a family's strings and Claims (default 64 KiB).
	MaxValueBytes int
	// MaxEntries bounds the records the in-process store holds (default
	// 100 000); beyond it writes fail with ErrFull. Ignored by Redis, whose
	// bound is the server's maxmemory.
	MaxEntries int
	// MaxBytes bounds the approximate memory the in-process store holds
	// (default 256 MiB); beyond it writes fail with ErrFull. Ignored by
	// Redis.
	MaxBytes int64
	// SweepInterval is how often the in-process store drops expired
	// records (default 30s). Ignored by Redis (keys carry TTLs).
	SweepInterval time.Duration
	// MaxCounters bounds the in-process store's Count counters, apart from
	// MaxEntries (default DefaultMaxCounters); beyond it the oldest window
	// is evicted (Memory.CounterEvictions). Ignored by Redis.
	MaxCounters int
	// TracerProvider, when set, traces every Redis command (a client span
	// named by the command, e.g. "evalsha", without its arguments: keys and
	// values stay out of traces). Nil installs no hook. Ignored by Memory.
	TracerProvider trace.TracerProvider
}

// Defaults of Options.
const (
	DefaultKeyPrefix          = "ssb:"
	DefaultSessionIdleTimeout = 8 * time.Hour
	DefaultSessionLifetime    = 24 * time.Hour
	DefaultRefreshLifetime    = 30 * 24 * time.Hour
	DefaultMaxValueBytes      = 64 << 10
	DefaultMaxEntries         = 100_000
	DefaultMaxBytes           = 256 << 20
	DefaultSweepInterval      = 30 * time.Second
)

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.SessionIdleTimeout <= 0 {
		o.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = DefaultSessionLifetime
	}
	if o.RefreshLifetime <= 0 {
		o.RefreshLifetime = DefaultRefreshLifetime
	}
	if o.RefreshReuseInterval < 0 {
		o.RefreshReuseInterval = 0
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.MaxCounters <= 0 {
		o.MaxCounters = DefaultMaxCounters
	}
	return o
}
