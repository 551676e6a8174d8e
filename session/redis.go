package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Store shared by replicas. Every key starts with
// Options.KeyPrefix and carries a TTL, so Redis drops what is forgotten.
//
// Key layout (P = prefix, H = base64url SHA-256 of a secret):
//
//	P s:H                 hash   session (v JSON, u user, ls last seen, ab absolute expiry, it idle)
//	P {u:USER}:s          zset   the user's session hashes, scored by absolute expiry
//	P o:KIND:H            string single-use record (PutOnce / TakeOnce)
//	P r:KIND:H            string replay-cache entry (Remember)
//	P c:KIND:H            string fixed-window counter (Count), H the hash of its key
//	P {f:FAMILY}:f        hash   refresh family (v JSON, u, cur token hash, prev, rot, ex, gen)
//	P {f:FAMILY}:o        zset   hashes of the family's rotated tokens, by generation
//	P {u:USER}:f          zset   the user's family ids, scored by expiry
//
// Keys used together in one script share a {hash tag}, so the store works on
// Redis Cluster; a session and its user index live in different slots and
// are updated in order (index first), never in one transaction.
type Redis struct {
	client redis.UniversalClient
	mode   string
	opts   Options

	getSession      *redis.Script
	indexAdd        *redis.Script
	createFamily    *redis.Script
	rotate          *redis.Script
	count           *redis.Script
	deleteSessionOf *redis.Script

	closeOnce sync.Once
}

var _ Store = (*Redis)(nil)

// Connection modes reported by (*Redis).Mode.
const (
	ModeSingle   = "single"
	ModeCluster  = "cluster"
	ModeSentinel = "sentinel"
)

// NewRedis connects to Redis and checks it answers PING within ctx.
//
// rawURL selects the deployment:
//   - one redis:// or rediss:// URL (go-redis ParseURL syntax, including
//     /db and query options such as dial_timeout): a single node;
//   - several URLs separated by commas: Redis Cluster, the URLs being seed
//     nodes. Credentials, TLS and options come from the first URL; the others
//     may be bare host:port, or URLs with the same scheme, credentials and
//     options. redis+cluster://host:port (optionally ?addr=host:port…) is a
//     cluster with a single seed. Over rediss, go-redis verifies every
//     node's certificate against the first URL's host name;
//   - redis+sentinel://[user:pass@]host:port[/db]?master_name=NAME, or any
//     redis:// URL with master_name: Sentinel (go-redis ParseFailoverURL).
//     The URL's credentials are the Sentinel's; the master's go in the
//     username and password query options; more sentinels as further
//     comma-separated addresses or addr= options;
//   - unix:///path/to/socket or redis+unix:///path/to/socket (?db=N and the
//     same query options): a single node on a unix socket.
//
// ValidateURL checks a URL the same way without connecting. Commas separate URLs: percent-encode a comma inside a password (%2C).
//
// Failures: ErrInvalid for a URL it cannot use or a bad Options.KeyPrefix;
// ErrUnavailable when Redis does not answer.
func NewRedis(ctx context.Context, rawURL string, opts Options) (*Redis, error) {
	opts = opts.withDefaults()
	if len(opts.KeyPrefix) > 64 || strings.ContainsAny(opts.KeyPrefix, "{}") {
		return nil, fmt.Errorf("%w: key prefix must be at most 64 characters without braces", ErrInvalid)
	}
	client, mode, err := newRedisClient(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.TracerProvider != nil {
		if err := traceRedis(client, opts.TracerProvider); err != nil {
			_ = client.Close()
			return nil, err
		}
	}
	r := &Redis{
		client:          client,
		mode:            mode,
		opts:            opts,
		getSession:      redis.NewScript(getSessionScript),
		indexAdd:        redis.NewScript(indexAddScript),
		createFamily:    redis.NewScript(createFamilyScript),
		rotate:          redis.NewScript(rotateScript),
		count:           redis.NewScript(countScript),
		deleteSessionOf: redis.NewScript(deleteSessionOfScript),
	}
	if err := r.Ping(ctx); err != nil {
		_ = client.Close()
		return nil, err
	}
	return r, nil
}

// newRedisClient builds the go-redis client rawURL asks for (see NewRedis;
// the parse is parseRedisURL, the one ValidateURL runs). It does not dial.
func newRedisClient(rawURL string) (redis.UniversalClient, string, error) {
	t, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("session: redis URL: %w", err)
	}
	switch {
	case t.failover != nil:
		return redis.NewFailoverClient(t.failover), t.mode, nil
	case t.cluster != nil:
		return redis.NewClusterClient(t.cluster), t.mode, nil
	default:
		return redis.NewClient(t.single), t.mode, nil
	}
}

// Mode reports how the store reaches Redis: ModeSingle, ModeCluster or
// ModeSentinel (for startup logs).
func (r *Redis) Mode() string { return r.mode }

// Close closes the connections. Later calls fail with ErrUnavailable. It
// returns the client's close error the first time, nil afterwards.
func (r *Redis) Close() error {
	var err error
	r.closeOnce.Do(func() { err = r.client.Close() })
	return err
}

// Ping checks every node (each shard's master on a cluster). ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	if c, ok := r.client.(*redis.ClusterClient); ok {
		err := c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return n.Ping(ctx).Err()
		})
		if err != nil {
			return r.fail("ping", err)
		}
		return nil
	}
	if err := r.client.Ping(ctx).Err(); err != nil {
		return r.fail("ping", err)
	}
	return nil
}

// fail wraps any client error as ErrUnavailable, keeping the cause (which
// may be a context error) visible to errors.Is. Replies never contain our
// secrets: keys hold only hashes.
func (r *Redis) fail(op string, err error) error {
	return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
}

func (r *Redis) sessionKey(h [32]byte) string  { return r.sessionKeyB64(b64(h[:])) }
func (r *Redis) sessionKeyB64(h string) string { return r.opts.KeyPrefix + "s:" + h }
func (r *Redis) userSessionsKey(userID string) string {
	return r.opts.KeyPrefix + "{u:" + userID + "}:s"
}
func (r *Redis) recordKey(space string, kind Kind, key string) string {
	h := digest(key)
	return r.opts.KeyPrefix + space + ":" + string(kind) + ":" + b64(h[:])
}
func (r *Redis) familyKey(id string) string  { return r.opts.KeyPrefix + "{f:" + id + "}:f" }
func (r *Redis) rotatedKey(id string) string { return r.opts.KeyPrefix + "{f:" + id + "}:o" }
func (r *Redis) userFamiliesKey(userID string) string {
	return r.opts.KeyPrefix + "{u:" + userID + "}:f"
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// sessionRecord is the immutable part of a session, stored as JSON.
type sessionRecord struct {
	OrgID        string            `json:"o,omitempty"`
	ConnectionID string            `json:"c,omitempty"`
	AMR          []string          `json:"amr,omitempty"`
	AuthTime     int64             `json:"at"`
	CreatedAt    int64             `json:"ca"`
	Data         map[string]string `json:"d,omitempty"`
}

// familyRecord is the immutable part of a refresh family, stored as JSON.
type familyRecord struct {
	OrgID     string `json:"o,omitempty"`
	ClientID  string `json:"c,omitempty"`
	Scope     string `json:"s,omitempty"`
	SessionID string `json:"sid,omitempty"`
	AuthTime  int64  `json:"at"`
	Claims    []byte `json:"cl,omitempty"`
	CreatedAt int64  `json:"ca"`
}

// addToIndex records member in a per-user index until expires.
func (r *Redis) addToIndex(ctx context.Context, key, member string, expires, t time.Time) error {
	return r.indexAdd.Run(ctx, r.client, []string{key}, member, ms(expires), ms(t)).Err()
}

// CreateSession implements Store.
func (r *Redis) CreateSession(ctx context.Context, s Session) (Session, error) {
	t := now()
	s, err := prepareSession(s, r.opts, t)
	if err != nil {
		return Session{}, err
	}
	v, err := json.Marshal(sessionRecord{
		OrgID: s.OrgID, ConnectionID: s.ConnectionID, AMR: s.AMR,
		AuthTime: ms(s.AuthTime), CreatedAt: ms(s.CreatedAt), Data: s.Data,
	})
	if err != nil {
		return Session{}, fmt.Errorf("session: encode session: %w", err)
	}
	h := digest(s.ID)
	// Index first: a crash in between leaves an index entry without a
	// session (cleaned later), never a session the index cannot revoke.
	if err := r.addToIndex(ctx, r.userSessionsKey(s.UserID), b64(h[:]), s.AbsoluteExpiry, t); err != nil {
		return Session{}, r.fail("index session", err)
	}
	key := r.sessionKey(h)
	_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "v", v, "u", s.UserID, "ls", ms(t), "ab", ms(s.AbsoluteExpiry), "it", s.IdleTimeout.Milliseconds())
		p.PExpire(ctx, key, sessionTTL(s, t))
		return nil
	})
	if err != nil {
		return Session{}, r.fail("create session", err)
	}
	return s, nil
}

// GetSession implements Store.
func (r *Redis) GetSession(ctx context.Context, id string) (Session, error) {
	if !validID(id) {
		return Session{}, ErrNotFound
	}
	t := now()
	res, err := r.getSession.Run(ctx, r.client, []string{r.sessionKey(digest(id))}, ms(t)).StringSlice()
	if errors.Is(err, redis.Nil) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, r.fail("get session", err)
	}
	if len(res) != 4 {
		return Session{}, r.fail("get session", fmt.Errorf("unexpected reply of %d elements", len(res)))
	}
	s, err := decodeSession(res[0], res[1], res[2], res[3])
	if err != nil {
		return Session{}, r.fail("get session", err)
	}
	s.ID, s.Handle, s.LastSeen = id, handleOf(id), t
	return s, nil
}

func decodeSession(v, user, abs, idle string) (Session, error) {
	var rec sessionRecord
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return Session{}, fmt.Errorf("decode session: %w", err)
	}
	ab, err1 := strconv.ParseInt(abs, 10, 64)
	it, err2 := strconv.ParseInt(idle, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Session{}, fmt.Errorf("decode session: %w", err)
	}
	return Session{
		UserID: user, OrgID: rec.OrgID, ConnectionID: rec.ConnectionID,
		AMR: cloneStrings(rec.AMR), AuthTime: fromMS(rec.AuthTime), CreatedAt: fromMS(rec.CreatedAt),
		AbsoluteExpiry: fromMS(ab), IdleTimeout: time.Duration(it) * time.Millisecond,
		Data: cloneMap(rec.Data),
	}, nil
}

// DeleteSession implements Store.
func (r *Redis) DeleteSession(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	h := digest(id)
	key := r.sessionKey(h)
	var user *redis.StringCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		user = p.HGet(ctx, key, "u")
		p.Del(ctx, key)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return r.fail("delete session", err)
	}
	if u := user.Val(); u != "" {
		if err := r.client.ZRem(ctx, r.userSessionsKey(u), b64(h[:])).Err(); err != nil {
			return r.fail("unindex session", err)
		}
	}
	return nil
}

// userIndex returns the live-by-absolute-expiry members of a per-user index,
// dropping the others.
func (r *Redis) userIndex(ctx context.Context, key string, t time.Time) ([]string, error) {
	var members *redis.StringSliceCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(ms(t), 10))
		members = p.ZRange(ctx, key, 0, -1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return members.Val(), nil
}

// ListUserSessions implements Store.
func (r *Redis) ListUserSessions(ctx context.Context, userID string) ([]Session, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	t := now()
	idx := r.userSessionsKey(userID)
	members, err := r.userIndex(ctx, idx, t)
	if err != nil {
		return nil, r.fail("list sessions", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(members))
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.HMGet(ctx, r.sessionKeyB64(m), "v", "u", "ls", "ab", "it")
		}
		return nil
	})
	if err != nil {
		return nil, r.fail("list sessions", err)
	}
	var out []Session
	var dead []any
	for i, c := range cmds {
		s, ok := listedSession(c.Val(), t)
		if !ok {
			dead = append(dead, members[i])
			continue
		}
		s.Handle = members[i]
		out = append(out, s)
	}
	if len(dead) > 0 {
		if err := r.client.ZRem(ctx, idx, dead...).Err(); err != nil {
			return nil, r.fail("clean session index", err)
		}
	}
	sortSessions(out)
	return out, nil
}

// listedSession decodes an HMGET reply, reporting false for a session that
// is gone, expired or unreadable.
func listedSession(vals []any, t time.Time) (Session, bool) {
	if len(vals) != 5 {
		return Session{}, false
	}
	var f [5]string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return Session{}, false
		}
		f[i] = s
	}
	s, err := decodeSession(f[0], f[1], f[3], f[4])
	if err != nil {
		return Session{}, false
	}
	ls, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return Session{}, false
	}
	s.LastSeen = fromMS(ls)
	return s, sessionAlive(s, t)
}

// RevokeUserSessions implements Store.
func (r *Redis) RevokeUserSessions(ctx context.Context, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	idx := r.userSessionsKey(userID)
	members, err := r.client.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, r.fail("revoke sessions", err)
	}
	return r.deleteIndexed(ctx, idx, members, func(m string) []string {
		return []string{r.opts.KeyPrefix + "s:" + m}
	})
}

// deleteIndexed deletes the keys of each index member (keys of one member
// share a slot), removes the members from the index and returns how many
// members still had their first key.
func (r *Redis) deleteIndexed(ctx context.Context, idx string, members []string, keysOf func(string) []string) (int, error) {
	if len(members) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.IntCmd, len(members))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			ks := keysOf(m)
			cmds[i] = p.Del(ctx, ks[0])
			if len(ks) > 1 {
				p.Del(ctx, ks[1:]...)
			}
		}
		return nil
	})
	if err != nil {
		return 0, r.fail("revoke", err)
	}
	n := 0
	for _, c := range cmds {
		if c.Val() > 0 {
			n++
		}
	}
	rem := make([]any, len(members))
	for i, m := range members {
		rem[i] = m
	}
	if err := r.client.ZRem(ctx, idx, rem...).Err(); err != nil {
		return n, r.fail("clean index", err)
	}
	return n, nil
}

// PutOnce implements Store.
func (r *Redis) PutOnce(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(kind, key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if len(value) > r.opts.MaxValueBytes {
		return fmt.Errorf("%w: value is %d bytes, limit %d", ErrInvalid, len(value), r.opts.MaxValueBytes)
	}
	if value == nil {
		value = []byte{}
	}
	ok, err := r.client.SetNX(ctx, r.recordKey("o", kind, key), value, ttl).Result()
	if err != nil {
		return r.fail("put once", err)
	}
	if !ok {
		return ErrExists
	}
	return nil
}

// TakeOnce implements Store.
func (r *Redis) TakeOnce(ctx context.Context, kind Kind, key string) ([]byte, error) {
	if err := checkKey(kind, key); err != nil {
		return nil, err
	}
	v, err := r.client.GetDel(ctx, r.recordKey("o", kind, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, r.fail("take once", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Remember implements Store.
func (r *Redis) Remember(ctx context.Context, kind Kind, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(kind, key); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	first, err := r.client.SetNX(ctx, r.recordKey("r", kind, key), "1", ttl).Result()
	if err != nil {
		return false, r.fail("remember", err)
	}
	return first, nil
}

// CreateRefresh implements Store.
func (r *Redis) CreateRefresh(ctx context.Context, family RefreshFamily) (string, error) {
	t := now()
	f, err := prepareFamily(family, r.opts, t)
	if err != nil {
		return "", err
	}
	v, err := json.Marshal(familyRecord{
		OrgID: f.OrgID, ClientID: f.ClientID, Scope: f.Scope, SessionID: f.SessionID,
		AuthTime: ms(f.AuthTime), Claims: f.Claims, CreatedAt: ms(f.CreatedAt),
	})
	if err != nil {
		return "", fmt.Errorf("session: encode family: %w", err)
	}
	if err := r.addToIndex(ctx, r.userFamiliesKey(f.UserID), f.ID, f.ExpiresAt, t); err != nil {
		return "", r.fail("index family", err)
	}
	token := newToken(f.ID)
	h := digest(token)
	created, err := r.createFamily.Run(ctx, r.client, []string{r.familyKey(f.ID), r.rotatedKey(f.ID)},
		v, f.UserID, h[:], ms(f.ExpiresAt)).Int()
	if err != nil {
		return "", r.fail("create family", err)
	}
	if created != 1 {
		return "", ErrExists
	}
	return token, nil
}

// RotateRefresh implements Store.
func (r *Redis) RotateRefresh(ctx context.Context, token string) (RefreshFamily, string, error) {
	id, ok := splitToken(token)
	if !ok {
		return RefreshFamily{}, "", ErrNotFound
	}
	t := now()
	next := newToken(id)
	h, nh := digest(token), digest(next)
	res, err := r.rotate.Run(ctx, r.client, []string{r.familyKey(id), r.rotatedKey(id)},
		h[:], nh[:], ms(t), r.opts.RefreshReuseInterval.Milliseconds(), keptRotatedLimit).Slice()
	if err != nil {
		return RefreshFamily{}, "", r.fail("rotate refresh", err)
	}
	code, _ := res[0].(int64)
	switch code {
	case rotateOK:
		f, err := decodeFamily(id, res)
		if err != nil {
			return RefreshFamily{}, "", r.fail("rotate refresh", err)
		}
		return f, next, nil
	case rotateConcurrent:
		return RefreshFamily{}, "", ErrRefreshConcurrent
	case rotateReused:
		f, err := decodeFamily(id, res)
		if err != nil {
			return RefreshFamily{}, "", r.fail("rotate refresh", err)
		}
		// Best effort: a stale index entry is harmless and expires with the family.
		_ = r.client.ZRem(ctx, r.userFamiliesKey(f.UserID), id).Err()
		return f, "", ErrRefreshReused
	case rotateExpired:
		if len(res) == 3 {
			if u, _ := res[2].(string); u != "" {
				_ = r.client.ZRem(ctx, r.userFamiliesKey(u), id).Err() // best effort: the index also expires
			}
		}
	}
	return RefreshFamily{}, "", ErrNotFound
}

// decodeFamily reads a rotate reply {code, v, u, ex, gen, rot}.
func decodeFamily(id string, res []any) (RefreshFamily, error) {
	if len(res) != 6 {
		return RefreshFamily{}, fmt.Errorf("unexpected reply of %d elements", len(res))
	}
	var f [5]string
	for i := range f {
		s, ok := res[i+1].(string)
		if !ok {
			return RefreshFamily{}, fmt.Errorf("unexpected reply element %T", res[i+1])
		}
		f[i] = s
	}
	return familyFromFields(id, f[0], f[1], f[2], f[3], f[4])
}

func familyFromFields(id, v, user, ex, gen, rot string) (RefreshFamily, error) {
	var rec familyRecord
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return RefreshFamily{}, fmt.Errorf("decode family: %w", err)
	}
	exp, err1 := strconv.ParseInt(ex, 10, 64)
	g, err2 := strconv.ParseInt(gen, 10, 64)
	rt, err3 := strconv.ParseInt(rot, 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return RefreshFamily{}, fmt.Errorf("decode family: %w", err)
	}
	return RefreshFamily{
		ID: id, UserID: user, OrgID: rec.OrgID, ClientID: rec.ClientID, Scope: rec.Scope,
		SessionID: rec.SessionID, AuthTime: fromMS(rec.AuthTime), Claims: cloneBytes(rec.Claims),
		CreatedAt: fromMS(rec.CreatedAt), ExpiresAt: fromMS(exp), Generation: g, RotatedAt: fromMS(rt),
	}, nil
}

// GetRefresh implements Store.
func (r *Redis) GetRefresh(ctx context.Context, token string) (RefreshFamily, error) {
	id, ok := splitToken(token)
	if !ok {
		return RefreshFamily{}, ErrNotFound
	}
	vals, err := r.client.HMGet(ctx, r.familyKey(id), "cur", "v", "u", "ex", "gen", "rot").Result()
	if err != nil {
		return RefreshFamily{}, r.fail("get refresh", err)
	}
	var f [6]string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return RefreshFamily{}, ErrNotFound
		}
		f[i] = s
	}
	h := digest(token)
	if f[0] != string(h[:]) {
		return RefreshFamily{}, ErrNotFound
	}
	fam, err := familyFromFields(id, f[1], f[2], f[3], f[4], f[5])
	if err != nil {
		return RefreshFamily{}, r.fail("get refresh", err)
	}
	if !now().Before(fam.ExpiresAt) {
		return RefreshFamily{}, ErrNotFound
	}
	return fam, nil
}

// RevokeFamily implements Store.
func (r *Redis) RevokeFamily(ctx context.Context, familyID string) error {
	if !validFamilyID(familyID) {
		return nil
	}
	var user *redis.StringCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		user = p.HGet(ctx, r.familyKey(familyID), "u")
		p.Del(ctx, r.familyKey(familyID), r.rotatedKey(familyID))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return r.fail("revoke family", err)
	}
	if u := user.Val(); u != "" {
		if err := r.client.ZRem(ctx, r.userFamiliesKey(u), familyID).Err(); err != nil {
			return r.fail("unindex family", err)
		}
	}
	return nil
}

// RevokeUserFamilies implements Store.
func (r *Redis) RevokeUserFamilies(ctx context.Context, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	idx := r.userFamiliesKey(userID)
	members, err := r.userIndex(ctx, idx, now())
	if err != nil {
		return 0, r.fail("revoke families", err)
	}
	return r.deleteIndexed(ctx, idx, members, func(id string) []string {
		return []string{r.familyKey(id), r.rotatedKey(id)}
	})
}

// RevokeSessionFamilies implements Store. It reads the user's family index
// and each family's record (one pipeline), then deletes the families of
// the session like RevokeUserFamilies.
func (r *Redis) RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error) {
	if err := checkSessionFamilies(userID, sessionHandle); err != nil {
		return 0, err
	}
	idx := r.userFamiliesKey(userID)
	members, err := r.userIndex(ctx, idx, now())
	if err != nil {
		return 0, r.fail("revoke session families", err)
	}
	if len(members) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.StringCmd, len(members))
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range members {
			cmds[i] = p.HGet(ctx, r.familyKey(id), "v")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, r.fail("revoke session families", err)
	}
	var ended []string
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil {
			continue // gone (redis.Nil): its index entry expires with it
		}
		var rec familyRecord
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			return 0, r.fail("revoke session families", fmt.Errorf("decode family: %w", err))
		}
		if sessionFamily(rec.SessionID, rec.Scope, sessionHandle, keepOffline) {
			ended = append(ended, members[i])
		}
	}
	return r.deleteIndexed(ctx, idx, ended, func(id string) []string {
		return []string{r.familyKey(id), r.rotatedKey(id)}
	})
}

// Count implements Store: one key, INCR and PEXPIRE in one script.
func (r *Redis) Count(ctx context.Context, kind Kind, key string, window time.Duration) (int64, time.Duration, error) {
	if err := checkKey(kind, key); err != nil {
		return 0, 0, err
	}
	if window < time.Millisecond {
		return 0, 0, fmt.Errorf("%w: window must be at least 1ms", ErrInvalid)
	}
	res, err := r.count.Run(ctx, r.client, []string{r.recordKey("c", kind, key)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, r.fail("count", err)
	}
	if len(res) != 2 {
		return 0, 0, r.fail("count", fmt.Errorf("unexpected reply of %d elements", len(res)))
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}
