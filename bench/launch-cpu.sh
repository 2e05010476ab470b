#!/bin/bash
# Where the CPU of a start goes when fleet's fleetctl launches units one request at a time, on 3
# real-systemd hosts booted by fleet's harness (reads ../shared, run by hand as root after
# `make build`):
#   bash bench/launch-cpu.sh                 30 instances, 3 runs
#   N=50 RUNS=5 bash bench/launch-cpu.sh
# Each run submits N instances of a template (not timed), then times `fleetctl start --no-block`
# of them until list-units shows N rows running, and reads the CPU each part of the cluster used
# meanwhile: etcd, each host's systemd (PID 1), each fleetd, and the whole host's cgroup (its
# systemd, fleetd, dbus-daemon, journald, the units' processes). Prints milliseconds of CPU per
# unit started, summed over the hosts; the fleetd of h1 also answers fleetctl's requests and,
# when it leads, runs the engine. Tears the cluster down. Reported in docs/benchmarks.md.
set -euo pipefail
N=${N:-30}
RUNS=${RUNS:-3}
CG=/sys/fs/cgroup/unified/fleet-harness
# shellcheck source=bench/harness-cluster.sh
source "$(dirname "$0")/harness-cluster.sh"
# shellcheck disable=SC2046
units=$(printf 'hello@%d.service ' $(seq 1 "$N"))
etcd_pid=$("$H/cluster.sh" status | awk '/^etcd:/{print $3}')

snapshot() {
  printf 'etcd %s\n' "$(ticks "$etcd_pid")"
  for i in 1 2 3; do
    hp=$(eval echo "\$H${i}_PID")
    printf 'h%d.systemd %s\n' "$i" "$(ticks "$hp")"
    printf 'h%d.fleetd %s\n' "$i" "$(ticks "$("$H/cluster.sh" fleetd-pid "$i")")"
    printf 'h%d.cgroup %s\n' "$i" "$(awk '/^usage_usec/{print int($2 / 10000)}' "$CG/h$i/cpu.stat")"
  done
}

for r in $(seq 1 "$RUNS"); do
  # shellcheck disable=SC2086
  "$F" submit $units >/dev/null
  sleep 2
  snapshot >before
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2086
  "$F" start --no-block $units >/dev/null
  t1=$EPOCHREALTIME
  until [ "$("$F" list-units --no-legend --fields=sub | grep -c running || true)" -ge "$N" ]; do
    sleep 0.05
  done
  t2=$EPOCHREALTIME
  sleep 1 # the last state writes and signals
  snapshot >after
  awk -v r="$r" -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" '
    NR == FNR { b[$1] = $2; next }
    { d[$1] = ($2 - b[$1]) * 10 / n }
    END {
      for (i = 1; i <= 3; i++) {
        sd += d["h" i ".systemd"]; fd += d["h" i ".fleetd"]
        rest += d["h" i ".cgroup"] - d["h" i ".systemd"] - d["h" i ".fleetd"]
      }
      printf "run %d: fleetctl start %.2f s, all running %.2f s; CPU ms per unit started:", r, t1 - t0, t2 - t0
      printf " etcd %.1f, systemd %.1f, fleetd %.1f (h1 %.1f h2 %.1f h3 %.1f), rest of the hosts %.1f, total %.1f\n",
        d["etcd"], sd, fd, d["h1.fleetd"], d["h2.fleetd"], d["h3.fleetd"], rest, d["etcd"] + sd + fd + rest
    }' before after
  # shellcheck disable=SC2086
  "$F" destroy $units >/dev/null
  sleep 3
done
