#!/usr/bin/env bash
# Load test of the admin API on a served broker with wrk:
#   GET /api/v1/orgs/{org}/workspaces with an API key, and with an access token
#   (client_credentials for the same service account, when /oauth2/token is wired),
#   next to GET /healthz as the same server's ceiling (PEERS.md: report ratios).
#
#   bench/admin-load.sh                  # PostgreSQL at 127.0.0.1:5432/test (fresh schema, dropped after)
#   DB= bench/admin-load.sh              # embedded SQLite instead
#   THREADS=2 CONNS=32 DURATION=20s WORKSPACES=20 bench/admin-load.sh
#
# Runs the real `ssobroker serve` (built here) on ADDR; needs wrk, curl, jq, and
# psql for PostgreSQL. The admin API must be mounted by serve (cmd/ssobroker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB=${DB-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=${ADDR:-127.0.0.1:18082}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-15s}
WORKSPACES=${WORKSPACES:-20}

for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install $tool" >&2; exit 1; }
done
tmp=$(mktemp -d)
schema=""
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$schema" ]; then psql "$DB" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/ssobroker" ./cmd/ssobroker
bin="$tmp/ssobroker"

export SSOBROKER_ADDR="$ADDR" SSOBROKER_ISSUER="http://$ADDR" SSOBROKER_DATA_DIR="$tmp/data" SSOBROKER_LOG_FORMAT=json
if [ -n "$DB" ]; then
  command -v psql >/dev/null || { echo "psql not found (or run with DB= for SQLite)" >&2; exit 1; }
  schema="ssb_bench_$(date +%s)_$$"
  psql "$DB" -qc "CREATE SCHEMA $schema" >/dev/null
  sep='?'; case "$DB" in *\?*) sep='&' ;; esac
  export SSOBROKER_DATABASE_URL="${DB}${sep}search_path=${schema}"
else
  export SSOBROKER_DATABASE_URL=""
fi

# The first credential comes from the CLI, as automation gets it (API.md).
"$bin" admin org create --name Bench --json >/dev/null
sa_json=$("$bin" admin service-account create --org Bench --name bench --role admin --json)
key=$(jq -r .api_key <<<"$sa_json")
sa_id=$(jq -r .service_account.id <<<"$sa_json")

"$bin" serve >"$tmp/serve.log" 2>&1 &
pid=$!
url="http://$ADDR"
for _ in $(seq 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$url/healthz" >/dev/null || { echo "ssobroker serve did not start:" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }

list="$url/api/v1/orgs/bench/workspaces"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$list")
[ "$status" = 200 ] || { echo "GET $list answered $status: is the admin API mounted in serve (cmd/ssobroker mountApp)?" >&2; exit 1; }
for i in $(seq "$WORKSPACES"); do
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "{\"name\":\"load-$i\"}" "$list"
done
count=$(curl -fsS -H "Authorization: Bearer $key" "$list?limit=500" | jq '.items | length')

token=$(curl -s -u "$sa_id:$key" -d grant_type=client_credentials "$url/oauth2/token" | jq -r '.access_token // empty' 2>/dev/null || true)

echo "store: ${SSOBROKER_DATABASE_URL:+postgres (schema $schema)}${SSOBROKER_DATABASE_URL:-sqlite}  workspaces listed: $count" \
  " wrk -t$THREADS -c$CONNS -d$DURATION  ($(nproc) CPUs)"

echo; echo "== GET /healthz (ceiling of this server)"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url/healthz"
echo; echo "== GET /api/v1/orgs/{org}/workspaces with an API key"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $key" "$list"
if [ -n "$token" ]; then
  echo; echo "== GET /api/v1/orgs/{org}/workspaces with an access token (JWT)"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$list"
else
  echo; echo "(no access token: POST /oauth2/token client_credentials is not wired in serve yet; JWT run skipped)"
fi
