package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Shared by both stores: ids, hashing, argument checks and the defaults
// applied at creation, so that Memory and Redis cannot drift apart.

const (
	idBytes          = 32 // session ids and token secrets: 256 bits
	idLen            = 43 // base64url length of idBytes
	familyIDBytes    = 18
	maxFamilyIDLen   = 64
	maxUserIDLen     = 256
	maxKeyLen        = 4096 // single-use / replay keys (hashed before storage)
	maxTokenLen      = maxFamilyIDLen + 1 + idLen
	keptRotatedLimit = 1000 // rotated-token hashes kept per family for reuse detection
	recordOverhead   = 256  // approximate bytes of bookkeeping per in-process record
)

// b64 encodes bytes as base64url without padding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newSecret returns 256 random bits, base64url. crypto/rand.Read never fails
// (the runtime aborts if the system source breaks).
func newSecret() string {
	b := make([]byte, idBytes)
	_, _ = rand.Read(b)
	return b64(b)
}

// NewFamilyID returns a fresh random refresh-family ID, for callers that
// need to know the ID before calling CreateRefresh (for example to record
// what an authorization code issued).
func NewFamilyID() string {
	b := make([]byte, familyIDBytes)
	_, _ = rand.Read(b)
	return "rf_" + b64(b)
}

// digest is the stored form of every secret: ids, tokens, single-use keys.
func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// handleOf returns the non-secret Handle of a session id.
func handleOf(id string) string {
	d := digest(id)
	return b64(d[:])
}

// validID reports whether s has the shape of a session id; anything else is
// rejected before touching the store.
func validID(s string) bool {
	return len(s) == idLen && isB64URL(s)
}

func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validFamilyID(s string) bool {
	return s != "" && len(s) <= maxFamilyIDLen && isB64URL(s)
}

// checkUserID rejects ids that are empty, huge, or would break a Redis
// Cluster hash tag.
func checkUserID(userID string) error {
	if userID == "" || len(userID) > maxUserIDLen || strings.ContainsAny(userID, "{}") {
		return fmt.Errorf("%w: user ID must be 1-%d bytes without braces", ErrInvalid, maxUserIDLen)
	}
	return nil
}

func checkKind(k Kind) error {
	if len(k) == 0 || len(k) > 32 {
		return fmt.Errorf("%w: kind must be 1-32 characters", ErrInvalid)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%w: kind %q must match [a-z0-9_]", ErrInvalid, string(k))
		}
	}
	return nil
}

func checkKey(kind Kind, key string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("%w: key must be 1-%d bytes", ErrInvalid, maxKeyLen)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: ttl must be at least 1ms", ErrInvalid)
	}
	return nil
}

// splitToken returns the family id of a refresh token "<family>.<secret>".
func splitToken(token string) (familyID string, ok bool) {
	if len(token) > maxTokenLen {
		return "", false
	}
	i := strings.LastIndexByte(token, '.')
	if i <= 0 || len(token)-i-1 != idLen || !isB64URL(token[i+1:]) || !validFamilyID(token[:i]) {
		return "", false
	}
	return token[:i], true
}

func newToken(familyID string) string { return familyID + "." + newSecret() }

// now is the store's clock, truncated to what Redis keeps (milliseconds).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// prepareSession validates s and fills what the store decides; the
// returned session has a fresh ID.
func prepareSession(s Session, o Options, t time.Time) (Session, error) {
	if err := checkUserID(s.UserID); err != nil {
		return Session{}, err
	}
	s.ID = newSecret()
	s.Handle = handleOf(s.ID)
	s.CreatedAt, s.LastSeen = t, t
	s.AuthTime = norm(s.AuthTime)
	if s.AuthTime.IsZero() {
		s.AuthTime = t
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = o.SessionIdleTimeout
	}
	s.IdleTimeout = s.IdleTimeout.Truncate(time.Millisecond)
	if s.IdleTimeout <= 0 {
		return Session{}, fmt.Errorf("%w: idle timeout below 1ms", ErrInvalid)
	}
	s.AbsoluteExpiry = norm(s.AbsoluteExpiry)
	if s.AbsoluteExpiry.IsZero() {
		s.AbsoluteExpiry = t.Add(o.SessionLifetime)
	}
	if !s.AbsoluteExpiry.After(t) {
		return Session{}, fmt.Errorf("%w: absolute expiry in the past", ErrInvalid)
	}
	s.AMR = cloneStrings(s.AMR)
	s.Data = cloneMap(s.Data)
	if n := sessionSize(s); n > o.MaxValueBytes {
		return Session{}, fmt.Errorf("%w: session is %d bytes, limit %d", ErrInvalid, n, o.MaxValueBytes)
	}
	return s, nil
}

func sessionSize(s Session) int {
	n := len(s.UserID) + len(s.OrgID) + len(s.ConnectionID)
	for _, a := range s.AMR {
		n += len(a)
	}
	for k, v := range s.Data {
		n += len(k) + len(v)
	}
	return n
}

// sessionTTL is how long a session seen at t stays alive without activity.
func sessionTTL(s Session, t time.Time) time.Duration {
	return min(s.IdleTimeout, s.AbsoluteExpiry.Sub(t))
}

// prepareFamily validates f and fills what the store decides.
func prepareFamily(f RefreshFamily, o Options, t time.Time) (RefreshFamily, error) {
	if err := checkUserID(f.UserID); err != nil {
		return RefreshFamily{}, err
	}
	if f.ID == "" {
		f.ID = NewFamilyID()
	}
	if !validFamilyID(f.ID) {
		return RefreshFamily{}, fmt.Errorf("%w: family ID must be 1-%d characters of [A-Za-z0-9_-]", ErrInvalid, maxFamilyIDLen)
	}
	f.CreatedAt = t
	f.AuthTime = norm(f.AuthTime)
	f.ExpiresAt = norm(f.ExpiresAt)
	if f.ExpiresAt.IsZero() {
		f.ExpiresAt = t.Add(o.RefreshLifetime)
	}
	if !f.ExpiresAt.After(t) {
		return RefreshFamily{}, fmt.Errorf("%w: family expiry in the past", ErrInvalid)
	}
	f.Generation, f.RotatedAt = 0, time.Time{}
	f.Claims = cloneBytes(f.Claims)
	if n := familySize(f); n > o.MaxValueBytes {
		return RefreshFamily{}, fmt.Errorf("%w: family is %d bytes, limit %d", ErrInvalid, n, o.MaxValueBytes)
	}
	return f, nil
}

func familySize(f RefreshFamily) int {
	return len(f.UserID) + len(f.OrgID) + len(f.ClientID) + len(f.Scope) + len(f.SessionID) + len(f.Claims)
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func cloneSession(s Session) Session {
	s.AMR = cloneStrings(s.AMR)
	s.Data = cloneMap(s.Data)
	return s
}

func cloneFamily(f RefreshFamily) RefreshFamily {
	f.Claims = cloneBytes(f.Claims)
	return f
}
