#!/usr/bin/env bash
# Dex and ssobroker's token endpoint under the same wrk load, in the same run:
# the machine drifts too much between runs for a Dex figure measured earlier to
# be a yardstick. Rounds alternate Dex, ours, Dex, ours (ROUNDS=2), then ours once
# more with ALG=EdDSA, and a summary gives tokens/s, p50/p99 and the ratio of
# each round, with the machine load (load average, CPU busy) before every run.
#
#   bench/dex-compare.sh                    # wrk -t1 -c16 -d15s; ours on PostgreSQL
#   DURATION=30s ROUNDS=3 bench/dex-compare.sh
#   JWKS=0 bench/dex-compare.sh             # skip the JWKS run after each of ours
#   DEX_VERSION=v0.0.0-<time>-<commit> bench/dex-compare.sh
#   DEX_SRC=/path/to/dex bench/dex-compare.sh   # Dex built from a source tree or a git dir
#   DB= bench/dex-compare.sh                # ours on SQLite (passed to bench/token-load.sh)
#   BASE_BIN=/tmp/ssobroker-old bench/dex-compare.sh  # also that build of ours, every round
#
# BASE_BIN adds a run of another build of ours (an earlier commit: go build -o
# … ./cmd/ssobroker there) to every round, right after this tree's, so a change
# is measured against its base and against Dex in the same run.
#
# Every run also prints the server's own CPU time per token (user + system from
# /proc, over the wrk run): on a shared machine requests/s depends on the share
# of the cores each server got, CPU µs/token much less; the summary gives both
# ratios.
#
# DEX_SRC: Dex's source, either a checkout (a directory with go.mod) or a git
# directory (a clone or a bare mirror; DEX_REF, default HEAD, is exported from
# it). The Go module proxy's newest Dex predates the client_credentials grant,
# so this is how the comparison gets Dex's current code:
#   git clone https://github.com/dexidp/dex /tmp/dex && DEX_SRC=/tmp/dex bench/dex-compare.sh
# The build (GOFLAGS=-mod=mod, outside this repository) is cached as
# dex-src-<commit, or a hash of the sources> next to the proxy builds.
#
# Dex: github.com/dexidp/dex from the Go module proxy at DEX_VERSION (a
# pseudo-version: Dex's v2.x tags are not valid versions for a module path
# without /v2), built in a temp dir outside the repository and cached as
# ${XDG_CACHE_HOME:-~/.cache}/ssobroker-bench/dex-$DEX_VERSION. Dex's go.mod
# replaces its nested module github.com/dexidp/dex/api/v2 with ./api/v2, which
# the module zip leaves out: the replace is dropped and the proxy's
# api/v2 pseudo-version of the same commit is required instead.
#
# The load Dex takes depends on what the built version has (bench/dex/):
#   - client_credentials grant (Dex 2026+): client-credentials-es256.yaml, the
#     same request as ours (grant_type=client_credentials, Basic auth), signed
#     with DEX_ALG (ES256 by default);
#   - otherwise (the default DEX_VERSION, v2.41.1, the newest Dex the proxy serves
#     here): refresh-rs256.yaml, the refresh_token grant with rotation disabled,
#     one refresh token replayed with Basic auth; Dex signs an RS256 access token
#     and an RS256 ID token per request (it has no other algorithm).
# The summary names the grant and algorithm of each side.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-15s}
THREADS=${THREADS:-1}
CONNS=${CONNS:-16}
ROUNDS=${ROUNDS:-2}
DEX_VERSION=${DEX_VERSION:-v0.0.0-20240807174518-43956db7fd75} # v2.41.1
DEX_ADDR=${DEX_ADDR:-127.0.0.1:18556}
DEX_ALG=${DEX_ALG:-ES256}
EDDSA=${EDDSA:-1} # 0: skip the extra ALG=EdDSA run of ours
export DURATION THREADS CONNS

for tool in go wrk curl jq sed awk; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/ssobroker-bench
DEX_SRC=${DEX_SRC:-}
DEX_REF=${DEX_REF:-HEAD}
tmp=$(mktemp -d)
dex_src_dir="" # the source tree a DEX_SRC build compiles
if [ -n "$DEX_SRC" ]; then
  if [ -f "$DEX_SRC/go.mod" ]; then
    dex_src_dir=$DEX_SRC
    dex_rev=$(git -C "$DEX_SRC" rev-parse --short=12 HEAD 2>/dev/null ||
      find "$DEX_SRC" \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-12)
  elif git --git-dir="$DEX_SRC" rev-parse --verify -q "$DEX_REF^{commit}" >/dev/null; then
    dex_rev=$(git --git-dir="$DEX_SRC" rev-parse --short=12 "$DEX_REF^{commit}")
    dex_src_dir=$tmp/dex-git-src
    mkdir -p "$dex_src_dir"
    git --git-dir="$DEX_SRC" archive "$DEX_REF" | tar -x -C "$dex_src_dir"
  else
    echo "DEX_SRC=$DEX_SRC is neither a Dex source tree (go.mod) nor a git directory with $DEX_REF" >&2; exit 1
  fi
  DEX_VERSION="source $dex_rev"
  dex_bin=$cache_dir/dex-src-$dex_rev
else
  dex_bin=$cache_dir/dex-$DEX_VERSION
fi
dex_pid=""
stop_dex() {
  if [ -n "$dex_pid" ]; then kill "$dex_pid" 2>/dev/null || true; wait "$dex_pid" 2>/dev/null || true; fi
  dex_pid=""
}
trap 'stop_dex; rm -rf "$tmp"' EXIT

# ---- build (or reuse) Dex -------------------------------------------------
build_dex() {
  if [ -x "$dex_bin" ] && [ -s "$dex_bin.mode" ]; then
    echo "dex: reusing $dex_bin ($(cat "$dex_bin.mode"))"
    return
  fi
  local json src dir err api_req api_ver th v
  if [ -n "$dex_src_dir" ]; then
    echo "dex: building $DEX_VERSION from $DEX_SRC (first run only, a few minutes on 2 cores)"
    dir=$dex_src_dir
    (cd "$dir" && GOFLAGS=-mod=mod GOWORK=off go build -trimpath -ldflags "-X main.version=$dex_rev" -o "$tmp/dex" ./cmd/dex)
    install_dex "$dir"
    return
  fi
  echo "dex: building github.com/dexidp/dex@$DEX_VERSION (first run only, a few minutes on 2 cores)"
  json=$(cd "$tmp" && GOFLAGS=-mod=mod GOWORK=off go mod download -json "github.com/dexidp/dex@$DEX_VERSION" 2>&1) || true
  err=$(jq -r '.Error // empty' <<<"$json" 2>/dev/null || echo "$json")
  if [ -n "$err" ]; then echo "dex: cannot download github.com/dexidp/dex@$DEX_VERSION: $err" >&2; exit 1; fi
  src=$(jq -r .Dir <<<"$json")
  dir=$tmp/dex-src
  cp -r "$src/." "$dir"
  chmod -R u+w "$dir"
  (
    cd "$dir"
    export GOFLAGS=-mod=mod GOWORK=off
    # The nested module api/v2 is not in the module zip: use the proxy's copy.
    if go mod edit -json | jq -e '.Replace[]? | select(.Old.Path=="github.com/dexidp/dex/api/v2" and (.New.Path|startswith("./")))' >/dev/null &&
      [ ! -f api/v2/go.mod ]; then
      api_req=$(go mod edit -json | jq -r '.Require[]? | select(.Path=="github.com/dexidp/dex/api/v2") | .Version')
      th=$(grep -oE '[0-9]{14}-[0-9a-f]{12}$' <<<"$DEX_VERSION" || true)
      cands=()
      if [ -n "$th" ] && [[ $api_req =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
        cands+=("v${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$((BASH_REMATCH[3] + 1))-0.$th") # same commit
      fi
      cands+=("$api_req")
      api_ver=""
      for v in "${cands[@]}"; do
        if (cd "$tmp" && go mod download "github.com/dexidp/dex/api/v2@$v" >/dev/null 2>&1); then api_ver=$v; break; fi
      done
      [ -n "$api_ver" ] || { echo "dex: no github.com/dexidp/dex/api/v2 version served among: ${cands[*]}" >&2; exit 1; }
      echo "dex: api/v2 replace ./api/v2 dropped, using github.com/dexidp/dex/api/v2@$api_ver"
      go mod edit -dropreplace=github.com/dexidp/dex/api/v2 -require="github.com/dexidp/dex/api/v2@$api_ver"
    fi
    go build -trimpath -ldflags "-X main.version=$DEX_VERSION" -o "$tmp/dex" ./cmd/dex
  )
  install_dex "$dir"
  rm -rf "$dir"
}
# install_dex SRC_DIR: caches $tmp/dex as $dex_bin with the grant and
# algorithm its source supports ($dex_bin.mode).
install_dex() {
  local dir=$1 mode
  if grep -rqs --include='*.go' --exclude='*_test.go' '"client_credentials"' "$dir/server" "$dir/cmd"; then
    # A local signer with an algorithm setting (server/signer) takes DEX_ALG.
    if grep -rqs --include='*.go' 'ES256' "$dir/server/signer"; then mode="client_credentials configurable"; else mode="client_credentials RS256"; fi
  else
    mode="refresh_token RS256"
  fi
  mkdir -p "$cache_dir"
  mv "$tmp/dex" "$dex_bin"
  echo "$mode" >"$dex_bin.mode"
  echo "dex: built $dex_bin ($mode)"
}
build_dex
read -r dex_grant dex_alg <"$dex_bin.mode"
[ "$dex_alg" = configurable ] && dex_alg=$DEX_ALG

client_id=bench
client_secret=bench-secret-$RANDOM$RANDOM
dex_basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
dex_url="http://$DEX_ADDR/dex"
cat >"$tmp/dex.lua" <<'EOF'
wrk.method = "POST"
wrk.body = os.getenv("DEX_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("DEX_BASIC")
EOF
if [ "$dex_grant" = client_credentials ]; then template=bench/dex/client-credentials-es256.yaml; else template=bench/dex/refresh-rs256.yaml; fi
sed -e "s|@DEX_ADDR@|$DEX_ADDR|g" -e "s|@CLIENT_ID@|$client_id|g" -e "s|@CLIENT_SECRET@|$client_secret|g" \
  -e "s|@DEX_ALG@|$dex_alg|g" "$template" >"$tmp/dex.yaml"

jwt_alg() { jq -r 'split(".")[0] | @base64d | fromjson | .alg' <<<"\"$1\"" 2>/dev/null || echo "?"; }

# wrk output → "tokens/s p50 p99 non2xx cpu-µs/token" (first wrk run in the
# file only; the CPU figure from cpu_per_request's line after it).
wrk_stats() {
  awk '/Requests\/sec:/ && rps == "" {rps = $2}
       $1 == "50%" && p50 == "" {p50 = $2}
       $1 == "99%" && p99 == "" {p99 = $2}
       /Non-2xx or 3xx responses:/ && bad == "" {bad = $NF}
       /^server CPU:/ && cpu == "" {cpu = $(NF - 1)}
       /^== GET/ {exit}
       END {printf "%s %s %s %d %s\n", (rps == "" ? "-" : rps), (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99), bad, (cpu == "" ? "-" : cpu)}' "$1"
}
# shellcheck source=bench/cpu.sh
. bench/cpu.sh
# Machine load before a run: the 1-minute load average (it still carries the
# previous run) and the share of both CPUs busy over 2 s with nothing of ours
# running (other work on the shared machine).
load_before() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 2
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  echo "uptime before: $(uptime)" >&2
  awk -v a="$a" -v b="$b" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]
    printf "%s/%d%%\n", l, (busy + idle > 0 ? 100 * busy / (busy + idle) : 0) }'
}

results=() # "label|grant|alg|rps|p50|p99|non2xx|cpu µs/token|load"

run_dex() { # $1 round
  local log=$tmp/dex-$1.wrk load body resp tok
  stop_dex
  load=$(load_before)
  "$dex_bin" serve "$tmp/dex.yaml" >"$tmp/dex-$1.log" 2>&1 &
  dex_pid=$!
  for _ in $(seq 300); do curl -fsS "$dex_url/.well-known/openid-configuration" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$dex_url/.well-known/openid-configuration" >/dev/null ||
    { echo "dex did not start:" >&2; tail -20 "$tmp/dex-$1.log" >&2; exit 1; }
  if [ "$dex_grant" = client_credentials ]; then
    body="grant_type=client_credentials"
  else
    # One password grant (bcrypt cost 10, once) for a refresh token that wrk replays.
    resp=$(curl -fsS -u "$client_id:$client_secret" --data-urlencode grant_type=password \
      --data-urlencode username=bench@example.com --data-urlencode password=bench-password \
      --data-urlencode "scope=openid offline_access" "$dex_url/token") ||
      { echo "dex password grant failed" >&2; tail -5 "$tmp/dex-$1.log" >&2; exit 1; }
    body="grant_type=refresh_token&refresh_token=$(jq -r '.refresh_token | @uri' <<<"$resp")"
  fi
  # One request first: the answer must carry an access token (and warms Dex up).
  resp=$(curl -fsS -X POST -H "Authorization: Basic $dex_basic" -d "$body" "$dex_url/token") ||
    { echo "dex token request failed" >&2; tail -5 "$tmp/dex-$1.log" >&2; exit 1; }
  tok=$(jq -r '.access_token // empty' <<<"$resp")
  [ -n "$tok" ] || { echo "dex returned no access token: $resp" >&2; exit 1; }
  local idt; idt=$(jq -r '.id_token // empty' <<<"$resp")
  echo "dex token check: access_token signed $(jwt_alg "$tok")${idt:+, id_token signed $(jwt_alg "$idt")}"
  echo "== Dex $DEX_VERSION POST /token ($dex_grant, $dex_alg, memory storage)  wrk -t$THREADS -c$CONNS -d$DURATION"
  local cpu0; cpu0=$(cpu_ticks "$dex_pid")
  DEX_BODY="$body" DEX_BASIC="$dex_basic" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$tmp/dex.lua" "$dex_url/token" | tee "$log"
  cpu_per_request "$dex_pid" "$cpu0" "$log" | tee -a "$log"
  stop_dex
  local s; read -r -a s <<<"$(wrk_stats "$log")"
  results+=("dex round $1|$dex_grant|$dex_alg|${s[0]}|${s[1]}|${s[2]}|${s[3]}|${s[4]}|$load")
}

run_ours() { # $1 label, $2 alg, $3 binary (empty: build this tree)
  local log=$tmp/ours-${1// /_}.log load
  load=$(load_before)
  echo "== ssobroker ($1): ALG=$2 ${3:+BIN=$3 }bench/token-load.sh (DB=${DB-postgres default})"
  ALG=$2 BIN=${3:-} bench/token-load.sh 2>&1 | grep -v '"level":"INFO","msg":"applied migration"' | tee "$log"
  local s; read -r -a s <<<"$(wrk_stats "$log")"
  local store=postgres; [ "${DB-x}" = "" ] && store=sqlite
  results+=("$1|client_credentials ($store)|$2|${s[0]}|${s[1]}|${s[2]}|${s[3]}|${s[4]}|$load")
}

# This tree is built once, not once a round.
ours_bin=$tmp/ssobroker
go build -o "$ours_bin" ./cmd/ssobroker

for r in $(seq "$ROUNDS"); do
  echo; echo "######## round $r: Dex"
  run_dex "$r"
  echo; echo "######## round $r: ssobroker"
  run_ours "ours round $r" ES256 "$ours_bin"
  if [ -n "${BASE_BIN:-}" ]; then
    echo; echo "######## round $r: ssobroker, base build $BASE_BIN"
    run_ours "base round $r" ES256 "$BASE_BIN"
  fi
done
if [ "$EDDSA" = 1 ]; then
  echo; echo "######## ssobroker ALG=EdDSA"
  run_ours "ours EdDSA" EdDSA "$ours_bin"
fi

echo
echo "======== summary: wrk -t$THREADS -c$CONNS -d$DURATION, $(nproc) CPUs (shared), $(date -u +%FT%TZ)"
echo "Dex $DEX_VERSION, memory storage; grant $dex_grant, alg $dex_alg"
[ "$dex_grant" = client_credentials ] ||
  echo "  (this Dex has no client_credentials grant: its figure is refresh_token, 2 RS256 signatures a request)"
echo "load: 1-minute load average / % of CPU busy over the 2 s before the run, before anything of ours started"
echo "cpu µs/tok: the server's own CPU time (user + system) per request over the wrk run"
printf '%-13s %-30s %-6s %10s %9s %9s %7s %10s %10s\n' run grant alg tokens/s p50 p99 non2xx "cpu µs/tok" load
for row in "${results[@]}"; do
  IFS='|' read -r label grant alg rps p50 p99 bad cpu load <<<"$row"
  printf '%-13s %-30s %-6s %10s %9s %9s %7s %10s %10s\n' "$label" "$grant" "$alg" "$rps" "$p50" "$p99" "$bad" "$cpu" "$load"
done
echo
dex_rps=() ours_rps=() dex_cpu=() ours_cpu=() base_rps=() base_cpu=()
for row in "${results[@]}"; do
  IFS='|' read -r label _ _ rps _ _ _ cpu _ <<<"$row"
  case $label in
    "dex round"*) dex_rps+=("$rps") dex_cpu+=("$cpu") ;;
    "ours round"*) ours_rps+=("$rps") ours_cpu+=("$cpu") ;;
    "base round"*) base_rps+=("$rps") base_cpu+=("$cpu") ;;
    "ours EdDSA") eddsa_rps=$rps ;;
  esac
done
ratios() { # $1 what, $2 ours tokens/s, $3 theirs tokens/s, $4 ours µs, $5 theirs µs
  awk -v w="$1" -v o="$2" -v d="$3" -v oc="$4" -v dc="$5" \
    'BEGIN {printf "%s = %s / %s tokens/s = %.2fx; CPU per token %s / %s µs = %.2fx less\n",
      w, o, d, (d > 0 ? o / d : 0), dc, oc, (oc > 0 ? dc / oc : 0)}'
}
for i in "${!dex_rps[@]}"; do
  ratios "round $((i + 1)): ssobroker ES256 / Dex" "${ours_rps[$i]:-0}" "${dex_rps[$i]}" "${ours_cpu[$i]:-0}" "${dex_cpu[$i]}"
  [ -z "${base_rps[$i]:-}" ] ||
    ratios "round $((i + 1)): base ES256 / Dex" "${base_rps[$i]}" "${dex_rps[$i]}" "${base_cpu[$i]}" "${dex_cpu[$i]}"
  [ -z "${base_rps[$i]:-}" ] ||
    ratios "round $((i + 1)): ssobroker / base" "${ours_rps[$i]:-0}" "${base_rps[$i]}" "${ours_cpu[$i]:-0}" "${base_cpu[$i]}"
done
if [ -n "${eddsa_rps:-}" ]; then
  awk -v d="${dex_rps[-1]}" -v o="$eddsa_rps" \
    'BEGIN {printf "ssobroker EdDSA / Dex (last round) = %s / %s = %.2fx\n", o, d, (d > 0 ? o / d : 0)}'
fi
