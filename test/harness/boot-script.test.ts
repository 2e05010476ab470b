/**
 * @module test/harness/boot-script.test
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bootScriptText, DROPPED_CAPABILITIES } from "./boot-script.js";

describe("boot script", () => {
  it("is valid bash", () => {
    const r = spawnSync("bash", ["-n"], { input: bootScriptText(), encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("pivots into the overlay before systemd and drops machine-wide capabilities", () => {
    const text = bootScriptText();
    const pivot = text.indexOf("pivot_root");
    expect(text.indexOf("mount -t overlay")).toBeLessThan(pivot);
    expect(text.indexOf("/lib/systemd/systemd")).toBeGreaterThan(pivot);
    expect(text).toContain(`--bounding-set -${DROPPED_CAPABILITIES.join(",-")}`);
  });
});
