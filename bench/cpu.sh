# shellcheck shell=bash
# Sourced by the load scripts (bench/serve.sh, bench/dex-compare.sh).
# cpu_ticks PID: the user + system CPU time the process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# cpu_per_request PID TICKS_BEFORE WRK_OUTPUT: prints the server's CPU time per
# request over that wrk run ("server CPU: … µs/request"). Unlike requests/s it
# does not depend on how much of the shared cores the server was given.
cpu_per_request() {
  local t1 hz reqs
  t1=$(cpu_ticks "$1")
  hz=$(getconf CLK_TCK)
  reqs=$(awk '/requests in/ {print $1; exit}' "$3")
  awk -v d="$((t1 - $2))" -v hz="$hz" -v n="${reqs:-0}" \
    'BEGIN {printf "server CPU: %.2f s for %d requests = %.1f µs/request\n", d / hz, n, (n > 0 ? d / hz * 1e6 / n : 0)}'
}
