#!/usr/bin/env bash
# Load test of the admin API on a served broker with wrk:
#   GET /api/v1/orgs/{org}/workspaces with an API key, and with an access token
#   (client_credentials for the same service account, when /oauth2/token is wired),
#   next to GET /healthz as the same server's ceiling (PEERS.md: report ratios).
#
#   bench/admin-load.sh                  # PostgreSQL at 127.0.0.1:5432 (a fresh database, dropped after)
#   DB= bench/admin-load.sh              # embedded SQLite instead
#   THREADS=2 CONNS=32 DURATION=20s WORKSPACES=20 bench/admin-load.sh
#
# Runs the real `ssobroker serve` (built here) on ADDR; needs wrk, curl, jq, and
# psql for PostgreSQL. The admin API must be mounted by serve (cmd/ssobroker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-15s}
WORKSPACES=${WORKSPACES:-20}
# shellcheck source=bench/serve.sh
. bench/serve.sh
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$list")
[ "$status" = 200 ] || { echo "GET $list answered $status: is the admin API mounted in serve (cmd/ssobroker mountApp)?" >&2; exit 1; }
for i in $(seq "$WORKSPACES"); do
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "{\"name\":\"load-$i\"}" "$list"
done
count=$(curl -fsS -H "Authorization: Bearer $key" "$list?limit=500" | jq '.items | length')

token=$(curl -s -u "$sa_id:$key" -d grant_type=client_credentials "$url/oauth2/token" | jq -r '.access_token // empty' 2>/dev/null || true)

echo "store: $store  workspaces listed: $count" \
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
