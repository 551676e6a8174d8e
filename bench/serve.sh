# shellcheck shell=bash
# shellcheck disable=SC2034 # variables for the scripts that source this file
# Sourced by the load scripts: builds (or takes $BIN) and starts the real `ssobroker serve` on a
# fresh PostgreSQL database created on the server $DB names (DB= for the embedded
# SQLite file), creates an org and an admin service account through the CLI, and
# exports:
#   url, bin, pid (the server's), key (API key), sa_id, basic (base64 "sa_id:key"),
#   list (workspaces URL)
# Cleans up (server, database, temp dir) on exit.
#
# A database of its own, not a schema in $DB's: every broker on one database
# shares its change channel (NOTIFY ssobroker_changes), so on a machine where
# tests run against $DB the server's lookup caches were emptied a few dozen
# times a second by other processes' writes, and the load measured PostgreSQL
# round trips that a broker with its own database never makes.
DB=${DB-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=${ADDR:-127.0.0.1:18082}
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install $tool" >&2; exit 1; }
done
tmp=$(mktemp -d)
dbname=""
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$dbname" ]; then psql "$DB" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# BIN=path runs that binary instead of building this tree (an A/B of two builds).
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  go build -o "$tmp/ssobroker" ./cmd/ssobroker
  bin="$tmp/ssobroker"
fi
export SSOBROKER_ADDR="$ADDR" SSOBROKER_ISSUER="http://$ADDR" SSOBROKER_DATA_DIR="$tmp/data" SSOBROKER_LOG_FORMAT=json
export SSOBROKER_SIGNING_ALG="${ALG:-ES256}"
if [ -n "$DB" ]; then
  command -v psql >/dev/null || { echo "psql not found (or run with DB= for SQLite)" >&2; exit 1; }
  dbname="ssb_bench_$(date +%s)_$$"
  psql "$DB" -qc "CREATE DATABASE $dbname" >/dev/null
  # The same server and options, the new database as the URL's path.
  SSOBROKER_DATABASE_URL=$(sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$dbname#" <<<"$DB")
  export SSOBROKER_DATABASE_URL
else
  export SSOBROKER_DATABASE_URL=""
fi

# The first credential comes from the CLI, as automation gets it (API.md).
"$bin" admin org create --name Bench --json >/dev/null
sa_json=$("$bin" admin service-account create --org Bench --name bench --role admin --json)
key=$(jq -r .api_key <<<"$sa_json")
sa_id=$(jq -r .service_account.id <<<"$sa_json")
basic=$(printf '%s:%s' "$sa_id" "$key" | base64 -w0)

"$bin" serve >"$tmp/serve.log" 2>&1 &
pid=$!
url="http://$ADDR"
for _ in $(seq 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$url/healthz" >/dev/null || { echo "ssobroker serve did not start:" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }
list="$url/api/v1/orgs/bench/workspaces"
store=sqlite
[ -z "$SSOBROKER_DATABASE_URL" ] || store="postgres (database $dbname)"

# shellcheck source=bench/cpu.sh
. bench/cpu.sh
