#!/bin/bash
# fleetd's CPU and RSS at rest with 300 units running, on 3 real-systemd hosts booted by fleet's
# harness (reads ../shared, run by hand as root after `make build`):
#   bash bench/at-rest.sh                       two 150 s windows, fleet.service's node flags
#   NODE_FLAGS="--max-semi-space-size=1" WINDOW=120 WINDOWS=3 bash bench/at-rest.sh
# Prints CPU-s per minute (utime+stime of each fleetd, 10 ms ticks) and VmRSS per host; the
# leader is the one with the engine's passes (about twice the others). Tears the cluster down.
set -euo pipefail
WINDOW=${WINDOW:-150}
WINDOWS=${WINDOWS:-2}
N=${N:-300}
# shellcheck source=bench/harness-cluster.sh
source "$(dirname "$0")/harness-cluster.sh"
for lo in $(seq 1 50 "$N"); do
  hi=$((lo + 49))
  [ "$hi" -gt "$N" ] && hi=$N
  # shellcheck disable=SC2046
  "$F" start --no-block $(printf 'hello@%d.service ' $(seq "$lo" "$hi")) >/dev/null
done
for _ in $(seq 1 120); do
  n=$("$F" list-units --no-legend | grep -c running || true)
  [ "$n" -ge "$N" ] && break
  sleep 1
done
echo "$n units running; node flags: $NODE_FLAGS"
sleep 20
declare -A before
for w in $(seq 1 "$WINDOWS"); do
  for i in 1 2 3; do
    p=$("$H/cluster.sh" fleetd-pid "$i")
    before[$i]=$(ticks "$p")
  done
  sleep "$WINDOW"
  for i in 1 2 3; do
    p=$("$H/cluster.sh" fleetd-pid "$i")
    after=$(ticks "$p")
    rss=$(awk '/VmRSS/{print $2}' "/proc/$p/status")
    awk -v w="$w" -v h="$i" -v a="${before[$i]}" -v b="$after" -v t="$WINDOW" -v r="$rss" \
      'BEGIN { printf "window %d h%d: %.3f CPU-s/min, RSS %.1f MB\n", w, h, (b - a) / 100 * 60 / t, r / 1024 }'
  done
done
