/**
 * @module test/harness/boot-script
 * The shell program that becomes a host. It runs as PID 1 of fresh PID + mount + UTS + IPC
 * namespaces (`unshare --pid --fork --mount --uts --ipc --propagation private`), builds the host's
 * root as an overlay of the machine's `/`, pivots into it and execs systemd in container mode.
 * It lives here as text (written into the run's dir at boot) so the harness works the same
 * from sources, from a build and from any working directory.
 *
 * Why each step (each one was needed on the real machine):
 *  - overlay + pivot_root: systemd-tmpfiles would otherwise empty the machine's real /tmp, and
 *    units would write to the real /etc and /var;
 *  - its own /dev (tmpfs with a few bound nodes, its own devpts, /dev/console -> null): journald,
 *    gettys and tmpfiles stay inside;
 *  - /proc/sys, /proc/sysrq-trigger and the top of /sys read-only: sysctl.d is not applied to the
 *    real kernel and udev does not start; cgroup mounts below /sys/fs/cgroup stay writable;
 *  - capabilities that act on the whole machine (kernel modules, clock, raw I/O, kernel log,
 *    MAC policy) are dropped from the bounding set before systemd starts: no unit of a test
 *    host can load a module or set the machine's clock even if a mask is missing;
 *  - `container=<name>`: systemd runs in container mode (no loop/swap/dm handling at shutdown,
 *    no console or tty setup, exits instead of rebooting the machine).
 * The PID file is written first, before anything can fail, so the harness can always find
 * (and kill) the process; the cgroup move comes before systemd so it starts in its own subtree.
 */

/** Capabilities no test host may hold (they act on the machine, not on the host). */
export const DROPPED_CAPABILITIES = [
  "sys_module",
  "sys_rawio",
  "sys_time",
  "wake_alarm",
  "syslog",
  "mac_admin",
  "mac_override",
  "block_suspend",
] as const;

export const BOOT_SCRIPT_NAME = "boot-host.sh";

/** Arguments: HOST_DIR HOSTNAME CONTAINER_NAME [CGROUP_DIR...] */
export function bootScriptText(): string {
  const bounding = DROPPED_CAPABILITIES.map((c) => `-${c}`).join(",");
  return `#!/bin/bash
# Written by fleet-ts test/harness/boot-script.ts: PID 1 of a test host until it execs systemd.
# Usage (as PID 1 of new pid+mount+uts+ipc namespaces): boot-host.sh HOST_DIR HOSTNAME CONTAINER [CGROUP_DIR...]
set -eu
H=$1
NAME=$2
CONTAINER=$3
shift 3
R=$H/root

# /proc is still the machine's here, so /proc/self/stat names our outer PID.
read -r OUTER_PID _ < /proc/self/stat
echo "$OUTER_PID" > "$H/pid.tmp"
mv "$H/pid.tmp" "$H/pid"
for d in "$@"; do
  echo 0 > "$d/cgroup.procs" # 0 = this process (a PID would be read in our new PID namespace)
done

echo "$NAME" > /proc/sys/kernel/hostname

mount -t overlay overlay -o "lowerdir=/,upperdir=$H/upper,workdir=$H/work" "$R"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
if [ -e "$R/proc/sysrq-trigger" ]; then
  mount --bind "$R/proc/sysrq-trigger" "$R/proc/sysrq-trigger"
  mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi
mount --rbind /sys "$R/sys"
mount -o remount,bind,ro "$R/sys"

mount -t tmpfs -o mode=755,nosuid,size=64m devtmp "$R/dev"
for d in null zero full random urandom tty; do
  touch "$R/dev/$d"
  mount --bind "/dev/$d" "$R/dev/$d"
done
touch "$R/dev/console"
mount --bind /dev/null "$R/dev/console"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -sf pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -sf /proc/self/fd "$R/dev/fd"
ln -sf /proc/self/fd/0 "$R/dev/stdin"
ln -sf /proc/self/fd/1 "$R/dev/stdout"
ln -sf /proc/self/fd/2 "$R/dev/stderr"

mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"

# Paths of the machine the host must see although they are under /tmp or /run (read-only).
if [ -f "$H/binds" ]; then
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    mkdir -p "$R$p"
    mount --bind "$p" "$R$p"
    mount -o remount,bind,ro "$R$p"
  done < "$H/binds"
fi

cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot || true

export container=$CONTAINER
exec setpriv --bounding-set ${bounding} -- \\
  /lib/systemd/systemd --system --unit=multi-user.target --log-target=journal-or-kmsg
`;
}
