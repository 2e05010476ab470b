import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { UnitRecord } from "../registry/codecs.js";
import { ApiError, errorEntity } from "./errors.js";
import { parseMachinePatch } from "./machine-patch.js";
import { encodePageToken, pageFromQuery, pageOf } from "./pagination.js";
import { listing, wireUnit, wireUnitState } from "./wire.js";

const golden = (name: string) =>
  readFileSync(
    new URL(`../../test/fixtures/fleetctl-golden/${name}.body`, import.meta.url),
    "utf8",
  );
const H = "0".repeat(40);
const record = (
  name: string,
  desiredState: UnitRecord["desiredState"],
  opts: [string, string, string][],
): UnitRecord => ({
  name,
  hash: H,
  desiredState,
  options: opts.map(([section, n, value]) => ({ section, name: n, value })),
});

describe("fleet API v1 JSON, byte for byte", () => {
  it("a unit just created (api.get-created)", () => {
    const u = record("apiunit.service", "inactive", [
      ["Unit", "Description", "made over the API"],
      ["Service", "ExecStart", "/bin/sleep 100000"],
    ]);
    expect(JSON.stringify(wireUnit(u, undefined, undefined, false))).toBe(
      golden("api.get-created"),
    );
  });

  it("the unit listing (api.units): placed, global and submitted units", () => {
    const db = record("db.service", "launched", [
      ["Unit", "Description", "Runs on role=db only"],
      ["Service", "ExecStart", "/bin/sleep 100000"],
      ["X-Fleet", "MachineMetadata", "role=db"],
    ]);
    const global = record("global.service", "launched", [
      ["Unit", "Description", "Global sleeper"],
      ["Service", "ExecStart", "/bin/sleep 100000"],
      ["X-Fleet", "Global", "true"],
    ]);
    const hello = record("hello@1.service", "launched", [
      ["Unit", "Description", "Hello %i"],
      ["Service", "ExecStart", "/bin/sleep 100000"],
    ]);
    const loaded = record("loaded.service", "loaded", [
      ["Unit", "Description", "Only loaded"],
      ["Service", "ExecStart", "/bin/sleep 100000"],
    ]);
    const submitted = record("submitted.service", "inactive", [
      ["Unit", "Description", "Only submitted"],
      ["Service", "ExecStart", "/bin/sleep 100000"],
    ]);
    const units = [
      wireUnit(
        db,
        { machineId: "2499e47deeeb1dfd3fadb0110f699d12", entryState: "launched" },
        H,
        false,
      ),
      wireUnit(
        global,
        { machineId: "1c82c571ade00fda5f2a91a241cd070c", entryState: "launched" },
        H,
        true,
      ),
      wireUnit(
        hello,
        { machineId: "1c82c571ade00fda5f2a91a241cd070c", entryState: "launched" },
        H,
        false,
      ),
      wireUnit(
        loaded,
        { machineId: "537e57b1a935390e863a7b2b71b1b1ac", entryState: "loaded" },
        H,
        false,
      ),
      wireUnit(submitted, undefined, undefined, false),
    ];
    expect(listing("units", units, undefined)).toBe(golden("api.units"));
  });

  it("a placed unit whose agent has not reported it yet is still inactive", () => {
    const u = record("x.service", "launched", []);
    expect(
      wireUnit(u, { machineId: "m", entryState: "launched" }, undefined, false).currentState,
    ).toBe("inactive");
  });

  it("a unit state (api.state.item) and empty listings (api.units.empty, api.units.page2)", () => {
    const s = wireUnitState("hello@1.service", "1c82c571ade00fda5f2a91a241cd070c", {
      hash: "6972be0ae67a8f31c541b4d9fe73ea11630cd7a2",
      loadState: "loaded",
      activeState: "active",
      subState: "running",
      since: 0,
    });
    expect(JSON.stringify(s)).toBe(golden("api.state.item"));
    expect(listing("units", [], undefined)).toBe(golden("api.units.empty"));
    expect(listing("states", [], undefined)).toBe(golden("api.units.page2"));
  });

  it("the error entity (api.err.get-missing)", () => {
    expect(errorEntity(404, "unit does not exist")).toBe(golden("api.err.get-missing"));
  });
});

describe("page tokens", () => {
  it("are fleet's: ZAACAA== is page 2 of 100", () => {
    expect(encodePageToken({ limit: 100, page: 2 })).toBe("ZAACAA==");
    expect(pageFromQuery(["ZAACAA=="], 100)).toEqual({ limit: 100, page: 2 });
    expect(pageFromQuery([], 100)).toEqual({ limit: 100, page: 1 });
  });
  it.each([
    [["garbage"], 400, /invalid nextPageToken "garbage"/],
    [["AQACAA=="], 400, /token limit must be 100/],
    [["ZAACAA==", "ZAACAA=="], 400, /too many values for page token/],
  ])("refuses %j", (values, status, message) => {
    let err: unknown;
    try {
      pageFromQuery(values, 100);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(status);
    expect((err as ApiError).message).toMatch(message);
  });
  it("cut listings into pages with a token for the next", () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    const first = pageOf(items, { limit: 100, page: 1 });
    expect(first.items).toHaveLength(100);
    expect(first.next).toBe("ZAACAA==");
    const third = pageOf(items, { limit: 100, page: 3 });
    expect(third.items).toHaveLength(50);
    expect(third.next).toBeUndefined();
    expect(pageOf(items, { limit: 100, page: 4 }).items).toEqual([]);
  });
});

describe("PATCH /fleet/v1/machines bodies", () => {
  const M = "1c82c571ade00fda5f2a91a241cd070c";
  it("takes fleet's add, replace and remove", () => {
    expect(
      parseMachinePatch([
        { op: "add", path: `/${M}/metadata/extra`, value: { value: "yes" } },
        { op: "replace", path: `/${M}/metadata/role`, value: { value: "db" } },
        { op: "remove", path: `/${M}/metadata/extra` },
      ]),
    ).toEqual([
      { machineId: M, patch: { op: "add", key: "extra", value: "yes" } },
      { machineId: M, patch: { op: "replace", key: "role", value: "db" } },
      { machineId: M, patch: { op: "remove", key: "extra" } },
    ]);
  });
  it.each([
    [
      [{ op: "frob", path: `/${M}/metadata/extra` }],
      /invalid op "frob" in operation 1: expect add, remove, or replace/,
    ],
    [
      [{ op: "add", path: "/x/meta/extra", value: { value: "1" } }],
      /machine metadata path invalid in operation 1/,
    ],
    [
      [{ op: "add", path: `/${M}/metadata/extra` }],
      /invalid value in operation 1: add and replace require a value/,
    ],
    [{ op: "add" }, /expected a JSON array/],
  ])("refuses %j with 400", (body, message) => {
    expect(() => parseMachinePatch(body)).toThrow(message);
  });
});
