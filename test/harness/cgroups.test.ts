/**
 * @module test/harness/cgroups.test
 */
import { describe, expect, it } from "vitest";
import { parseProcCgroup, planRunCgroupDirs } from "./cgroups.js";
import { parseMountinfo } from "./mounts.js";

const MOUNTS = parseMountinfo(
  [
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    "42 31 0:39 /outer /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
  ].join("\n"),
);

describe("cgroup planning", () => {
  it("puts the run under the caller's own cgroup in every mounted hierarchy", () => {
    const own = parseProcCgroup(
      [
        "9:name=systemd:/",
        "8:pids:/outer/job",
        "4:memory:/process_api/abc",
        "1:cpu:/",
        "7:blkio:/", // not mounted: skipped
        "0::/",
      ].join("\n"),
    );
    expect(planRunCgroupDirs("r1", own, MOUNTS)).toEqual([
      "/sys/fs/cgroup/systemd/fleet-ts-hosts/r1",
      "/sys/fs/cgroup/pids/job/fleet-ts-hosts/r1",
      "/sys/fs/cgroup/memory/process_api/abc/fleet-ts-hosts/r1",
      "/sys/fs/cgroup/cpu/fleet-ts-hosts/r1",
      "/sys/fs/cgroup/unified/fleet-ts-hosts/r1",
    ]);
  });

  it("never nests a run inside another run's tree", () => {
    const own = parseProcCgroup("1:cpu:/a/fleet-ts-hosts/old/h0/system.slice/x.service");
    expect(planRunCgroupDirs("r2", own, MOUNTS)).toEqual([
      "/sys/fs/cgroup/cpu/a/fleet-ts-hosts/r2",
    ]);
  });
});
