package session

// Lua scripts. Each touches keys of one hash slot only (one key, or keys
// sharing a {hash tag}), so it runs atomically on Redis Cluster too. Times
// are Unix milliseconds passed by the caller; Lua numbers are doubles, exact
// for such values.

// indexAddScript adds a member to a per-user sorted set scored by its
// absolute expiry, drops members already past it, and keeps the set alive as
// long as its longest-lived member.
// KEYS[1] index; ARGV[1] member, ARGV[2] expiry ms, ARGV[3] now ms.
const indexAddScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(top[2])))
return 1
`

// getSessionScript returns a live session and slides its idle expiry, or
// deletes it when it is past its idle or absolute expiry.
// KEYS[1] session; ARGV[1] now ms. Returns nil or {v, u, ab, it}.
const getSessionScript = `
local r = redis.call('HMGET', KEYS[1], 'v', 'u', 'ls', 'ab', 'it')
if not r[1] then return false end
local now = tonumber(ARGV[1])
local ab = tonumber(r[4])
local it = tonumber(r[5])
if now >= ab or now - tonumber(r[3]) >= it then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'ls', ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.min(it, ab - now))
return {r[1], r[2], r[4], r[5]}
`

// createFamilyScript creates a family unless one with that ID exists.
// KEYS[1] family, KEYS[2] rotated hashes; ARGV[1] v, ARGV[2] user, ARGV[3]
// token hash, ARGV[4] expiry ms. Returns 1, or 0 when the ID is taken.
const createFamilyScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'u', ARGV[2], 'cur', ARGV[3], 'ex', ARGV[4], 'gen', 0, 'rot', 0)
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
`

// Results of rotateScript, first element of its reply.
const (
	rotateNotFound   = 0
	rotateOK         = 1
	rotateConcurrent = 2
	rotateReused     = 3
	rotateExpired    = 4
)

// rotateScript is the atomic conditional update behind refresh rotation
// (docs/security.md, Hydra #3604): only a caller presenting the current token
// moves the family on; a caller presenting a rotated one revokes it.
// KEYS[1] family, KEYS[2] rotated hashes (sorted set by generation);
// ARGV[1] presented hash, ARGV[2] new hash, ARGV[3] now ms, ARGV[4] reuse
// interval ms, ARGV[5] how many rotated hashes to keep.
// Returns {code, v, u, ex, gen, rot}.
const rotateScript = `
local f = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'rot', 'ex', 'gen', 'v', 'u')
if not f[1] then return {0} end
local now = tonumber(ARGV[3])
if now >= tonumber(f[4]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {4, '', f[7]}
end
if f[1] == ARGV[1] then
  local gen = tonumber(f[5]) + 1
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', ARGV[1], 'rot', ARGV[3], 'gen', gen)
  redis.call('ZADD', KEYS[2], gen, ARGV[1])
  local keep = tonumber(ARGV[5])
  local n = redis.call('ZCARD', KEYS[2])
  if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - keep - 1) end
  redis.call('PEXPIREAT', KEYS[2], f[4])
  return {1, f[6], f[7], f[4], tostring(gen), ARGV[3]}
end
if tonumber(ARGV[4]) > 0 and f[2] == ARGV[1] and now - tonumber(f[3]) < tonumber(ARGV[4]) then
  return {2}
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {3, f[6], f[7], f[4], f[5], f[3]}
end
return {0}
`

// countScript is a fixed-window counter: INCR, and the window's expiry set
// by the count that created the key (PEXPIRE when it has none: the same as
// PEXPIRE NX, on every Redis version).
// KEYS[1] counter; ARGV[1] window ms. Returns {count, ms until the window ends}.
const countScript = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`

// deleteSessionOfScript deletes a session only when it belongs to the user
// named, and reports whether it did.
// KEYS[1] session; ARGV[1] user ID.
const deleteSessionOfScript = `
if redis.call('HGET', KEYS[1], 'u') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`
