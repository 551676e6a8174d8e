# shellcheck shell=bash
# shellcheck disable=SC2034 # variables for the scripts that source this file
# Sourced by the load scripts: builds and starts the real `ssobroker serve` on a
# fresh PostgreSQL schema ($DB; DB= for the embedded SQLite file), creates an org
# and an admin service account through the CLI, and exports:
#   url, bin, key (API key), sa_id, basic (base64 "sa_id:key"), list (workspaces URL)
# Cleans up (server, schema, temp dir) on exit.
DB=${DB-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=${ADDR:-127.0.0.1:18082}
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
export SSOBROKER_SIGNING_ALG="${ALG:-ES256}"
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
basic=$(printf '%s:%s' "$sa_id" "$key" | base64 -w0)

"$bin" serve >"$tmp/serve.log" 2>&1 &
pid=$!
url="http://$ADDR"
for _ in $(seq 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$url/healthz" >/dev/null || { echo "ssobroker serve did not start:" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }
list="$url/api/v1/orgs/bench/workspaces"
store=sqlite
[ -z "$SSOBROKER_DATABASE_URL" ] || store="postgres (schema $schema)"
