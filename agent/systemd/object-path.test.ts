import { describe, expect, it } from "vitest";
import { unitNameFromPath, unitObjectPath } from "./object-path.js";
import { hasInstallSection } from "./unit-files.js";

describe("systemd unit object paths", () => {
  it.each([
    ["foo.service", "/org/freedesktop/systemd1/unit/foo_2eservice"],
    ["foo@1.service", "/org/freedesktop/systemd1/unit/foo_401_2eservice"],
    ["dbus.service", "/org/freedesktop/systemd1/unit/dbus_2eservice"],
    ["1a.service", "/org/freedesktop/systemd1/unit/_31a_2eservice"],
    ["a-b_c.target", "/org/freedesktop/systemd1/unit/a_2db_5fc_2etarget"],
  ])("%s ↔ %s", (name, path) => {
    expect(unitObjectPath(name)).toBe(path);
    expect(unitNameFromPath(path)).toBe(name);
  });
  it("ignores other paths", () => {
    expect(unitNameFromPath("/org/freedesktop/systemd1")).toBeUndefined();
    expect(unitNameFromPath("/org/freedesktop/systemd1/job/12")).toBeUndefined();
  });
  it("tells units with an [Install] section", () => {
    expect(
      hasInstallSection("[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"),
    ).toBe(true);
    expect(hasInstallSection("[Service]\nExecStart=/bin/true\n")).toBe(false);
  });
});
