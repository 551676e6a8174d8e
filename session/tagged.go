package session

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Sessions filed under a tag: the broker's sessions that came through one
// upstream session (a SAML NameID at one connection), so that the IdP's
// logout request, which names only that, can end them (docs/logout.md,
// "SAML Single Logout"). A tag is an opaque string the caller derives
// (idp hashes the NameID); entries live until the session's absolute
// expiry and are written only after a verified sign-in, so they are
// bounded by the sessions themselves.

// TaggedSession names a session filed under a tag: its user and Handle.
type TaggedSession struct {
	UserID string
	Handle string
}

// maxTag bounds a tag (it is hashed before it is stored).
const maxTag = 1024

func checkTag(tag string) error {
	if tag == "" || len(tag) > maxTag {
		return fmt.Errorf("%w: tag must be 1-%d bytes", ErrInvalid, maxTag)
	}
	return nil
}

// checkTagging validates TagSession's arguments at time t.
func checkTagging(tag, userID, handle string, expires, t time.Time) error {
	if err := checkTag(tag); err != nil {
		return err
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	if !validHandle(handle) {
		return fmt.Errorf("%w: malformed session handle", ErrInvalid)
	}
	if !expires.After(t) {
		return fmt.Errorf("%w: expiry in the past", ErrInvalid)
	}
	return nil
}

// validHandle reports whether h has the shape of a session Handle.
func validHandle(h string) bool { return validID(h) }

func taggedMember(userID, handle string) string { return handle + " " + userID }

func parseTaggedMember(m string) (TaggedSession, bool) {
	handle, user, ok := strings.Cut(m, " ")
	if !ok || !validHandle(handle) || checkUserID(user) != nil {
		return TaggedSession{}, false
	}
	return TaggedSession{UserID: user, Handle: handle}, true
}

func handleDigest(handle string) ([32]byte, bool) {
	var h [32]byte
	b, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// TagSession implements Store.
func (m *Memory) TagSession(ctx context.Context, tag, userID, handle string, expires time.Time) error {
	t := now()
	if err := checkTagging(tag, userID, handle, expires, t); err != nil {
		return err
	}
	k := recordKey{space: 't', key: digest(tag)}
	member := taggedMember(userID, handle)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	set := m.tags[k]
	if set == nil {
		set = map[string]time.Time{}
		m.tags[k] = set
	}
	if _, ok := set[member]; !ok {
		if err := m.charge(int64(recordOverhead+len(member)), t); err != nil {
			return err
		}
	}
	set[member] = expires
	return nil
}

// SessionsTagged implements Store.
func (m *Memory) SessionsTagged(ctx context.Context, tag string) ([]TaggedSession, error) {
	if err := checkTag(tag); err != nil {
		return nil, err
	}
	k := recordKey{space: 't', key: digest(tag)}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	var out []TaggedSession
	for member, exp := range m.tags[k] {
		if !t.Before(exp) {
			m.untagLocked(k, member)
			continue
		}
		if ts, ok := parseTaggedMember(member); ok {
			out = append(out, ts)
		}
	}
	return out, nil
}

func (m *Memory) untagLocked(k recordKey, member string) {
	set := m.tags[k]
	if _, ok := set[member]; !ok {
		return
	}
	delete(set, member)
	m.release(int64(recordOverhead + len(member)))
	if len(set) == 0 {
		delete(m.tags, k)
	}
}

func (m *Memory) sweepTagsLocked(t time.Time) {
	for k, set := range m.tags {
		for member, exp := range set {
			if !t.Before(exp) {
				m.untagLocked(k, member)
			}
		}
	}
}

// DeleteSessionByHandle implements Store.
func (m *Memory) DeleteSessionByHandle(ctx context.Context, userID, handle string) (bool, error) {
	if err := checkUserID(userID); err != nil {
		return false, err
	}
	h, ok := handleDigest(handle)
	if !ok {
		return false, nil
	}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return false, err
	}
	ms := m.sessions[h]
	if ms == nil || ms.s.UserID != userID {
		return false, nil
	}
	alive := sessionAlive(ms.s, t)
	m.removeSession(h, ms)
	return alive, nil
}

func (r *Redis) tagKey(tag string) string {
	h := digest(tag)
	return r.opts.KeyPrefix + "t:" + b64(h[:])
}

// TagSession implements Store.
func (r *Redis) TagSession(ctx context.Context, tag, userID, handle string, expires time.Time) error {
	t := now()
	if err := checkTagging(tag, userID, handle, expires, t); err != nil {
		return err
	}
	if err := r.addToIndex(ctx, r.tagKey(tag), taggedMember(userID, handle), expires, t); err != nil {
		return r.fail("tag session", err)
	}
	return nil
}

// SessionsTagged implements Store.
func (r *Redis) SessionsTagged(ctx context.Context, tag string) ([]TaggedSession, error) {
	if err := checkTag(tag); err != nil {
		return nil, err
	}
	members, err := r.userIndex(ctx, r.tagKey(tag), now())
	if err != nil {
		return nil, r.fail("tagged sessions", err)
	}
	var out []TaggedSession
	for _, m := range members {
		if ts, ok := parseTaggedMember(m); ok {
			out = append(out, ts)
		}
	}
	return out, nil
}

// DeleteSessionByHandle implements Store.
func (r *Redis) DeleteSessionByHandle(ctx context.Context, userID, handle string) (bool, error) {
	if err := checkUserID(userID); err != nil {
		return false, err
	}
	if _, ok := handleDigest(handle); !ok {
		return false, nil
	}
	key := r.sessionKeyB64(handle)
	n, err := r.deleteSessionOf.Run(ctx, r.client, []string{key}, userID).Int()
	if err != nil {
		return false, r.fail("delete session", err)
	}
	if n == 0 {
		return false, nil
	}
	if err := r.client.ZRem(ctx, r.userSessionsKey(userID), handle).Err(); err != nil {
		return true, r.fail("unindex session", err)
	}
	return true, nil
}
