import { describe, expect, it } from "vitest";
import { advertisedApiUrl } from "../fleetd.js";
import { ApiError } from "./errors.js";
import { parseEventQuery } from "./events.js";
import { journalArgv, statusArgv } from "./host-commands.js";
import { parseJournalQuery } from "./journal.js";

const q = (s: string) => new URLSearchParams(s);
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof ApiError) return { status: err.status, message: err.message };
    throw err;
  }
  throw new Error("accepted");
};

describe("event stream query", () => {
  it("defaults to every kind, no snapshot, no resume", () => {
    const e = parseEventQuery(q(""));
    expect(e).toEqual({
      from: undefined,
      snapshot: false,
      kinds: new Set(["unit", "state", "machine"]),
    });
    expect(parseEventQuery(q("from=42&kinds=state")).from).toBe(42);
    expect(parseEventQuery(q("snapshot=true&kinds=unit,machine")).kinds).toEqual(
      new Set(["unit", "machine"]),
    );
  });
  it.each([
    ["from=-1", /from=-1 is not an etcd revision/],
    ["from=1.5", /from=1.5/],
    ["from=1&snapshot=true", /cannot be combined/],
    ["kinds=", /kinds=/],
    ["kinds=units", /kinds=units/],
    ["snapshot=1", /snapshot=1/],
    ["since=3", /unknown query parameter since/],
  ])("refuses %s with a 400 naming it", (query, message) => {
    expect(refusal(() => parseEventQuery(q(query)))).toEqual({
      status: 400,
      message: expect.stringMatching(message),
    });
  });
});

describe("journal query", () => {
  it("defaults to 10 lines without follow", () => {
    expect(parseJournalQuery(q(""))).toEqual({ lines: 10, follow: false, machineId: null });
    expect(parseJournalQuery(q(`lines=0&follow=true&machineID=${"a".repeat(32)}`))).toEqual({
      lines: 0,
      follow: true,
      machineId: "a".repeat(32),
    });
  });
  it.each([
    ["lines=10001", /lines=10001/],
    ["lines=-3", /lines=-3/],
    ["follow=yes", /follow=yes/],
    ["machineID=abc", /machineID=abc is not a machine ID/],
    ["tail=3", /unknown query parameter tail/],
  ])("refuses %s with a 400 naming it", (query, message) => {
    expect(refusal(() => parseJournalQuery(q(query)))).toEqual({
      status: 400,
      message: expect.stringMatching(message),
    });
  });
  it("runs journalctl and systemctl with the unit name as one argument, never through a shell", () => {
    const name = "a;rm -rf /.service";
    expect(journalArgv(name, 5, true)).toEqual([
      "journalctl",
      "--no-pager",
      "-u",
      name,
      "-n",
      "5",
      "-f",
      "-o",
      "short",
    ]);
    expect(statusArgv(name)).toEqual([
      "systemctl",
      "status",
      "--no-pager",
      "-l",
      "--lines=10",
      name,
    ]);
  });
});

describe("the API URL a fleetd advertises", () => {
  it("is its first TCP listener, a wildcard host replaced by the public IP", () => {
    expect(advertisedApiUrl(["unix:///var/run/fleet.sock"], "10.0.0.1")).toBeUndefined();
    expect(advertisedApiUrl(["unix:///x", "tcp://127.0.0.5:4002"], "10.0.0.1")).toBe(
      "http://127.0.0.5:4002",
    );
    expect(advertisedApiUrl(["tcp://0.0.0.0:4002"], "10.0.0.1")).toBe("http://10.0.0.1:4002");
    expect(advertisedApiUrl(["tcp://[::]:4002"], "fd00::1")).toBe("http://[fd00::1]:4002");
    expect(advertisedApiUrl(["tcp://0.0.0.0:4002"], "")).toBeUndefined();
  });
});
