#!/usr/bin/env bash
# The server's CPU per request (user and system time from /proc, divided by the requests wrk
# got answered) for several webhook builds, in alternating rounds: a steadier figure than
# requests/s when wrk shares the machine's cores with the server. /validate and /mutate at 32
# connections, 5 s each, with the bodies and certificate bench/webhook.sh writes (run it first).
# usage: bench/webhook-cpu.sh [ROUNDS] [NAME=KILN_WEBHOOK_BINARY...]
# The release build of this checkout is always `now`. Results: bench/out/webhook-cpu.md, ending
# with each build's medians over the rounds and its requests/s against the first other build's,
# round by round.
# BENCH_SECONDS (default 5) and BENCH_ENDPOINTS (default "validate mutate") shorten a run: on
# a shared machine whose speed drifts over minutes, many short rounds compare builds better
# than a few long ones.
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
  for endpoint in ${BENCH_ENDPOINTS:-validate mutate}; do
    for i in "${!bins[@]}"; do
      read -r user0 system0 < <(awk '{print $14, $15}' "/proc/${pids[$i]}/stat")
      result=$(wrk -t 2 -c 32 -d "${BENCH_SECONDS:-5}s" -s "$out/post.lua" \
        "https://127.0.0.1:$((18460 + i))/$endpoint")
      read -r user1 system1 < <(awk '{print $14, $15}' "/proc/${pids[$i]}/stat")
      requests=$(awk '/requests in/ {print $1}' <<<"$result")
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$result")
      awk -v r="$round" -v e="/$endpoint" -v b="${names[$i]}" -v rps="$rps" -v n="$requests" \
        -v u=$((user1 - user0)) -v s=$((system1 - system0)) -v t="$ticks" \
        'BEGIN { printf "| %s | %s | %s | %s | %.1f | %.1f |\n", r, e, b, rps, u / t / n * 1e6, s / t / n * 1e6 }' >>"$report"
    done
  done
done
# Per endpoint and build: the medians over rounds of its requests/s and CPU per request and,
# with another build, of its requests/s divided by the first other build's in the same round.
echo >>"$report"
python3 - "$report" "${names[1]:-}" >>"$report" <<'PY'
import collections, statistics, sys
report, base = sys.argv[1], sys.argv[2]
rows = {}
for line in open(report):
    cells = [cell.strip() for cell in line.split("|")[1:-1]]
    if len(cells) == 6 and cells[0].isdigit():
        rows[cells[0], cells[1], cells[2]] = [float(cell) for cell in cells[3:]]
columns = collections.defaultdict(list)
for (_, endpoint, build), values in rows.items():
    columns[endpoint, build].append(values)
print("| endpoint | build | median requests/s | user µs/request | system µs/request |")
print("|---|---|---:|---:|---:|")
for (endpoint, build), values in sorted(columns.items()):
    rps, user, system = (statistics.median(column) for column in zip(*values))
    print(f"| {endpoint} | {build} | {rps:.0f} | {user:.1f} | {system:.1f} |")
ratios = collections.defaultdict(list)
for (round_, endpoint, build), values in rows.items():
    if base and build != base and (round_, endpoint, base) in rows:
        ratios[endpoint, build].append(values[0] / rows[round_, endpoint, base][0])
if ratios:
    print()
for (endpoint, build), values in sorted(ratios.items()):
    print(f"{endpoint} {build}: median {100 * statistics.median(values):.1f}% of {base}'s "
          f"requests/s over {len(values)} rounds (lowest {100 * min(values):.1f}%, "
          f"highest {100 * max(values):.1f}%)")
PY
cat "$report"
