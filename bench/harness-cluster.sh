#!/bin/bash
# Sourced by the bench scripts that drive fleet's own harness (../shared/tools/harness): boots a
# 3-host cluster of real systemd hosts running our fleetd (dist/, after `make build`), exports
# FLEETCTL_ENDPOINT and the hosts' PIDs, sets F to fleet's fleetctl, and leaves the caller in a
# scratch directory holding the template hello@.service. The cluster is torn down on exit.
# Env: HARNESS, FLEETCTL, NODE_FLAGS (default: fleet.service's node flags). Defines ticks PID:
# the process's utime+stime in 10 ms ticks.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=${HARNESS:-$REPO/../shared/tools/harness}
F=${FLEETCTL:-$REPO/../shared/tools/fleetctl-v1.0.0}
NODE_FLAGS=${NODE_FLAGS:---max-semi-space-size=1 --v8-pool-size=0}
work=$(mktemp -d)
trap '"$H/cluster.sh" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$H/cluster.sh" down >/dev/null 2>&1 || true
# shellcheck disable=SC2086
FLEETD_BIN="$(command -v node) $NODE_FLAGS $REPO/dist/agent/main.js" "$H/cluster.sh" up 3 >"$work/up.log" 2>&1
eval "$("$H/cluster.sh" env)"
export FLEETCTL_ENDPOINT
cd "$work" || exit 1
printf '[Unit]\nDescription=hello %%i\n\n[Service]\nExecStart=/bin/sleep 100000\n' >hello@.service

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
