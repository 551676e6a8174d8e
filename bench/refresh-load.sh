#!/usr/bin/env bash
# Load test of the refresh_token grant (POST /oauth2/token) on loopback with wrk.
# bench/oidcserver serves the tokens package's OpenID provider with a stand-in
# sign-in, creates one refresh-token family per wrk thread through real
# sign-ins, and wrk rotates each family as fast as it can (bench/refresh-load.lua).
#
#   bench/refresh-load.sh                       # PostgreSQL (fresh schema) + Redis (random prefix)
#   DB= REDIS= bench/refresh-load.sh            # SQLite + in-process sessions
#   THREADS=8 DURATION=20s ID_ALG=ES256 SCOPE="email offline_access" bench/refresh-load.sh
#
# SCOPE with openid (the default) returns an ID token at every refresh, signed
# with ID_ALG (RS256 by default; ES256 signs it with the access-token key).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB=${DB-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS=${REDIS-redis://127.0.0.1:6379/0}
ADDR=${ADDR:-127.0.0.1:18083}
THREADS=${THREADS:-8}
DURATION=${DURATION:-15s}
ID_ALG=${ID_ALG:-RS256}
SCOPE=${SCOPE:-openid email offline_access}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; wait "${pid:-0}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/oidcserver" ./bench/oidcserver
"$tmp/oidcserver" -addr "$ADDR" -database-url "$DB" -redis-url "$REDIS" -id-token-alg "$ID_ALG" -scope "$SCOPE" \
  -families "$THREADS" -tokens-file "$tmp/tokens" -ready-file "$tmp/ready" &
pid=$!
for _ in $(seq 300); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
[ -s "$tmp/ready" ] || { echo "oidcserver did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$tmp/ready"
export SSB_TOKENS="$tmp/tokens" SSB_CLIENT_ID
echo "directory: $SSB_BACKEND  sessions: $SSB_SESSIONS  scope: $SCOPE  ID tokens: $ID_ALG"
echo "wrk -t$THREADS -c$THREADS -d$DURATION  ($(nproc) CPUs; every connection rotates its own family)"
echo; echo "== POST /oauth2/token (refresh_token)"
wrk -t"$THREADS" -c"$THREADS" -d"$DURATION" --latency -s bench/refresh-load.lua "$SSB_URL/oauth2/token"
