/**
 * @module test/harness/mounts.test
 */
import { describe, expect, it } from "vitest";
import { mountsUnder, parseMountinfo } from "./mounts.js";

const SAMPLE = [
  "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard",
  "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "50 27 0:40 / /tmp/run\\040a/hosts rw - tmpfs fleet-ts-hosts rw,size=4g",
  "51 50 0:41 / /tmp/run\\040a/hosts/h0/x rw - tmpfs t rw",
  "52 27 0:42 / /tmp/run\\040ab rw - tmpfs t rw",
  "53 27 0:4 net:[4026532177] /run/netns/fts-x-br rw shared:2 - nsfs nsfs rw",
].join("\n");

describe("mountinfo", () => {
  it("parses fields and unescapes octal escapes in paths", () => {
    const m = parseMountinfo(SAMPLE);
    expect(m).toHaveLength(6);
    expect(m[1]).toEqual({
      mountId: 35,
      root: "/",
      mountPoint: "/sys/fs/cgroup/memory",
      fsType: "cgroup",
      source: "cgroup",
      superOptions: "rw,memory",
    });
    expect(m[2]?.mountPoint).toBe("/tmp/run a/hosts");
    expect(m[5]?.root).toBe("net:[4026532177]");
  });

  it("lists mounts at or below a dir, deepest first, without matching a sibling prefix", () => {
    const under = mountsUnder("/tmp/run a", parseMountinfo(SAMPLE)).map((m) => m.mountPoint);
    expect(under).toEqual(["/tmp/run a/hosts/h0/x", "/tmp/run a/hosts"]);
  });
});
