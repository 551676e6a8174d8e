#!/usr/bin/env bash
# Load test of the token service on loopback with wrk:
#   POST /oauth2/token (client_credentials, client_secret_basic) and GET /.well-known/jwks.json.
#
#   bench/token-load.sh                 # PostgreSQL at 127.0.0.1:5432/test (fresh schema)
#   DB= bench/token-load.sh             # SQLite instead
#   THREADS=1 CONNS=16 DURATION=20s ALG=ES256 bench/token-load.sh
#
# Needs wrk (apt-get install wrk). The server is bench/tokenserver, built here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB=${DB-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=${ADDR:-127.0.0.1:18080}
THREADS=${THREADS:-1}
CONNS=${CONNS:-16}
DURATION=${DURATION:-15s}
ALG=${ALG:-ES256}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; wait "${pid:-0}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/tokenserver" ./bench/tokenserver
"$tmp/tokenserver" -addr "$ADDR" -database-url "$DB" -alg "$ALG" -ready-file "$tmp/ready" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
[ -s "$tmp/ready" ] || { echo "token server did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$tmp/ready"
export SSB_BASIC
echo "store: $SSB_BACKEND  alg: $ALG  wrk -t$THREADS -c$CONNS -d$DURATION  ($(nproc) CPUs)"

# One request first: the answer must be a token, and it warms the caches.
curl -fsS -X POST -H "Authorization: Basic $SSB_BASIC" -d grant_type=client_credentials "$SSB_URL/oauth2/token" |
  grep -q '"access_token"' || { echo "token request failed" >&2; exit 1; }

echo; echo "== POST /oauth2/token (client_credentials)"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/token-load.lua "$SSB_URL/oauth2/token"
echo; echo "== GET /.well-known/jwks.json"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$SSB_URL/.well-known/jwks.json"
