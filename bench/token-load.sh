#!/usr/bin/env bash
# Load test of the token service of the real `ssobroker serve` on loopback with wrk:
#   POST /oauth2/token (client_credentials, client_secret_basic) and GET /.well-known/jwks.json.
#
#   bench/token-load.sh                 # PostgreSQL at 127.0.0.1:5432 (a fresh database, dropped after)
#   DB= bench/token-load.sh             # embedded SQLite instead
#   THREADS=1 CONNS=16 DURATION=20s ALG=EdDSA bench/token-load.sh
#   JWKS=0 BIN=/tmp/ssobroker bench/token-load.sh   # token endpoint only; a prebuilt binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
THREADS=${THREADS:-1}
CONNS=${CONNS:-16}
DURATION=${DURATION:-15s}
# shellcheck source=bench/serve.sh
. bench/serve.sh
export SSB_BASIC="$basic"
echo "store: $store  alg: $SSOBROKER_SIGNING_ALG  wrk -t$THREADS -c$CONNS -d$DURATION  ($(nproc) CPUs)"

# One request first: the answer must be a token, and it warms the caches.
curl -fsS -X POST -H "Authorization: Basic $SSB_BASIC" -d grant_type=client_credentials "$url/oauth2/token" |
  grep -q '"access_token"' || { echo "token request failed" >&2; exit 1; }

echo; echo "== POST /oauth2/token (client_credentials)"
cpu0=$(cpu_ticks "$pid")
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/token-load.lua "$url/oauth2/token" | tee "$tmp/token.wrk"
cpu_per_request "$pid" "$cpu0" "$tmp/token.wrk"
[ "${JWKS:-1}" = 0 ] && exit 0 # JWKS=0: the token endpoint only
echo; echo "== GET /.well-known/jwks.json"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url/.well-known/jwks.json"
