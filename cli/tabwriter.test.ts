import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatTabbed, formatTable } from "./tabwriter.js";

const golden = (name: string) =>
  readFileSync(new URL(`../test/fixtures/fleetctl-golden/${name}.out`, import.meta.url), "utf8");

describe("Go's tabwriter as fleetctl configured it", () => {
  it.each([
    "list-unit-files",
    "list-unit-files--full",
    "list-unit-files--fields=unit,hash,dstate,state,target,desc,global",
    "list-unit-files.with-unschedulable",
    "lifecycle.2b.list-unit-files",
    "list-units",
    "list-units--full--fields=unit,machine,active,sub,load,hash",
    "list-machines",
    "list-machines--full",
    "list-machines.after-patch",
  ])("re-aligns %s to fleet's bytes from single tabs", (name) => {
    const g = golden(name);
    expect(formatTabbed(g.replace(/\t+/g, "\t"))).toBe(g);
  });

  it("pads with whole tabs to the next multiple of 8 after the widest cell + 1", () => {
    expect(
      formatTable([
        ["UNIT", "MACHINE"],
        ["a.service", "m"],
      ]),
    ).toBe("UNIT\t\tMACHINE\na.service\tm\n");
    // 7 characters + padding 1 = 8: exactly one tab stop, so one tab.
    expect(formatTable([["1234567", "x"]])).toBe("1234567\tx\n");
    expect(formatTable([["12345678", "x"]])).toBe("12345678\tx\n");
    expect(
      formatTable([
        ["12345678", "x"],
        ["1", "y"],
      ]),
    ).toBe("12345678\tx\n1\t\ty\n");
  });

  it("aligns a column only within the block of lines that have it", () => {
    // The one-cell line in the middle ends the block: the lines after it align on their own.
    expect(formatTabbed("a\tb\nlonger-than-eight\tc\nalone\nx\ty\n")).toBe(
      "a\t\t\tb\nlonger-than-eight\tc\nalone\nx\ty\n",
    );
  });

  it("counts characters, not UTF-16 units or bytes", () => {
    expect(
      formatTable([
        ["héllo😀", "x"],
        ["abcdefg", "y"],
      ]),
    ).toBe("héllo😀\tx\nabcdefg\ty\n");
  });

  it("prints nothing for no rows", () => {
    expect(formatTable([])).toBe("");
  });
});
