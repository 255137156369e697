#!/usr/bin/env bash
# The server's CPU per request (user and system time from /proc, divided by the requests wrk
# got answered) for several webhook builds, in alternating rounds: a steadier figure than
# requests/s when wrk shares the machine's cores with the server. /validate and /mutate at 32
# connections, 5 s each, with the bodies and certificate bench/webhook.sh writes (run it first).
# usage: bench/webhook-cpu.sh [ROUNDS] [NAME=KILN_WEBHOOK_BINARY...]
# The release build of this checkout is always `now`. Results: bench/out/webhook-cpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
shift || true
out=bench/out/webhook
[ -f "$out/post.lua" ] || { echo "run bench/webhook.sh first (it writes $out)" >&2; exit 2; }
names=(now)
bins=("${CARGO_TARGET_DIR:-target}/release/kiln-webhook")
for build in "$@"; do
  names+=("${build%%=*}")
  bins+=("${build#*=}")
done
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for i in "${!bins[@]}"; do
  RUST_LOG=warn "${bins[$i]}" --listen "127.0.0.1:$((18460 + i))" \
    --tls-cert "$out/certs/tls.crt" --tls-key "$out/certs/tls.key" >/dev/null 2>&1 &
  pids+=($!)
done
sleep 1
ticks=$(getconf CLK_TCK)
report=bench/out/webhook-cpu.md
echo "| round | endpoint | build | requests/s | user µs/request | system µs/request |" >"$report"
echo "|---:|---|---|---:|---:|---:|" >>"$report"
for round in $(seq "$rounds"); do
  for endpoint in validate mutate; do
    for i in "${!bins[@]}"; do
      read -r user0 system0 < <(awk '{print $14, $15}' "/proc/${pids[$i]}/stat")
      result=$(wrk -t 2 -c 32 -d 5s -s "$out/post.lua" "https://127.0.0.1:$((18460 + i))/$endpoint")
      read -r user1 system1 < <(awk '{print $14, $15}' "/proc/${pids[$i]}/stat")
      requests=$(awk '/requests in/ {print $1}' <<<"$result")
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$result")
      awk -v r="$round" -v e="/$endpoint" -v b="${names[$i]}" -v rps="$rps" -v n="$requests" \
        -v u=$((user1 - user0)) -v s=$((system1 - system0)) -v t="$ticks" \
        'BEGIN { printf "| %s | %s | %s | %s | %.1f | %.1f |\n", r, e, b, rps, u / t / n * 1e6, s / t / n * 1e6 }' >>"$report"
    done
  done
done
cat "$report"
