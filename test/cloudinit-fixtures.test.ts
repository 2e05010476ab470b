/**
 * Every document of test/fixtures/cloudconfig.json (coreos-cloudinit v1.14's own answers): the
 * same validation verdicts and line numbers, the same parsed structure, the same
 * 20-cloudinit.conf drop-ins, the same unit actions (for the units fleet-ts applies). Where
 * fleet-ts fixes coreos-cloudinit on purpose the test says so, with the policy number of
 * test/fixtures/VECTORS-README.md.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseUserData } from "../cloud-config/document.js";
import { etcd2DropIn, fleetDropIn } from "../cloud-config/dropins.js";
import { CloudConfigInputError } from "../cloud-config/errors.js";
import { type Action, planCloudConfig } from "../cloud-config/plan.js";
import { substitute } from "../cloud-config/substitute.js";
import { type ReportEntry, validateUserData } from "../cloud-config/validate.js";
import { decodeContent, fileMode } from "../cloud-config/write-file-content.js";

interface Entry {
  kind: string;
  line: number;
  message: string;
}
interface Case {
  id: string;
  note: string;
  document: string;
  user_data_kind: string;
  parse_error: string | null;
  validate: { entries: Entry[]; entry_order_varies: boolean; error: string | null };
  cloud_config?: Record<string, unknown>;
  decoded_write_files?: {
    path: string;
    content: string;
    content_base64?: string;
    mode: string;
    owner: string;
  }[];
  fleet_dropin?: { content: string; written: boolean };
  etcd2_dropin?: { content: string; written: boolean };
  unit_actions?: Record<string, string>[];
  unit_actions_error?: string | null;
}

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/cloudconfig.json", import.meta.url), "utf8"),
) as {
  substitution_metadata: Record<string, string>;
  cases: Case[];
};
const SUBS = Object.fromEntries(
  Object.entries(fixture.substitution_metadata).map(([k, v]) => [k.slice(1), v]),
);

/** Policy #19 (and the section note): deprecations of fleet, etcd and etcd2 are not repeated. */
const isSectionDeprecation = (e: Entry) =>
  /^deprecated key "(fleet|etcd|etcd2)" \(/.test(e.message);
/** Policy #19: the spurious `line 0` entry after a YAML syntax error is not emitted. */
const isSpuriousLineZero = (e: Entry) =>
  e.line === 0 && e.message === 'incorrect type for "" (want struct)';

/** write_files entries without a path or with a relative one. */
const REFUSED_BY_PLANNER = new Set([
  "c005",
  "c007",
  "c009",
  "c063",
  "c065",
  "c075",
  "c079",
  "c081",
  "c089",
  "c091",
  "c093",
]);

function expectedEntries(c: Case): Entry[] {
  let want = c.validate.entries.filter((e) => !isSectionDeprecation(e) && !isSpuriousLineZero(e));
  // Policy #19: a document that is a list (not a mapping) is an error instead of silence.
  if (c.id === "c141") want = [{ kind: "error", line: 2, message: "" }];
  return want;
}

const verdict = (es: readonly (Entry | ReportEntry)[], sorted: boolean) => {
  const v = es.map((e) => `${e.line}:${e.kind}`);
  return sorted ? v.sort() : v;
};

function goNormalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(goNormalize);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, goNormalize(x)]),
    );
  }
  return v;
}

describe("coreos-cloudinit's fixtures (test/fixtures/cloudconfig.json)", () => {
  it("has the cases the README describes", () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(70);
  });

  for (const c of fixture.cases) {
    describe(`${c.id}: ${c.note}`, () => {
      it("user-data kind", () => {
        expect(parseUserData(c.document).kind).toBe(c.user_data_kind);
      });

      it("validation verdicts and line numbers", () => {
        const got = validateUserData(c.document);
        const want = expectedEntries(c);
        expect(verdict(got.entries, c.validate.entry_order_varies)).toEqual(
          verdict(want, c.validate.entry_order_varies),
        );
        // Messages: coreos-cloudinit's, except YAML syntax errors (the parser's own words) and
        // the policy #19 entries (ours).
        const keep = (e: Entry | ReportEntry) =>
          e.kind !== "error" || !/YAML|expected|unexpected|^$|mapping/.test(e.message);
        const msgs = (es: readonly (Entry | ReportEntry)[]) => {
          const m = es.filter(keep).map((e) => `${e.line}:${e.kind}:${e.message}`);
          return c.validate.entry_order_varies ? m.sort() : m;
        };
        expect(msgs(got.entries)).toEqual(msgs(want));
      });

      if (c.parse_error !== null && c.user_data_kind === "cloud-config") {
        it("what coreos-cloudinit failed to parse (then applied an empty config) is not applied here", () => {
          const doc = parseUserData(substitute(c.document, SUBS));
          const report = validateUserData(c.document);
          let refused = report.hasErrors;
          if (!refused) {
            try {
              planCloudConfig(doc.config, { users: [], groups: [] });
            } catch (e) {
              refused = e instanceof CloudConfigInputError;
            }
          }
          expect(refused).toBe(true);
        });
      }

      if (c.id === "c139" || c.id === "c061") {
        it("policy #19: no spurious line-0 warning after the syntax error", () => {
          expect(c.validate.entries.some(isSpuriousLineZero)).toBe(true);
          expect(validateUserData(c.document).entries.some((e) => e.line === 0)).toBe(false);
        });
      }
      if (c.validate.entries.some(isSectionDeprecation)) {
        it("policy: no deprecation warning for coreos.fleet/etcd/etcd2", () => {
          expect(validateUserData(c.document).entries.some(isSectionDeprecation)).toBe(false);
        });
      }

      const cc = c.cloud_config;
      if (cc !== undefined) {
        it("parsed structure (after $private_ipv4-style substitution)", () => {
          const doc = parseUserData(substitute(c.document, SUBS));
          const want = goNormalize(cc) as { coreos: { fleet: Record<string, unknown> } };
          if (c.id === "c107") {
            // Policy #18: YAML 1.2 numbers: `verbosity: 010` is 10, not octal 8.
            expect(want.coreos.fleet.verbosity).toBe(8);
            want.coreos.fleet.verbosity = 10;
          }
          expect(goNormalize(doc.config)).toEqual(want);
        });
      }

      if (c.decoded_write_files !== undefined && c.parse_error === null) {
        it("decoded write_files: content and mode", () => {
          const doc = parseUserData(substitute(c.document, SUBS));
          const files = doc.config.write_files ?? [];
          expect(files.length).toBe(c.decoded_write_files?.length);
          files.forEach((f, i) => {
            const want = c.decoded_write_files?.[i];
            const bytes = decodeContent(f.content, f.encoding);
            const wantBytes =
              want?.content_base64 !== undefined
                ? Buffer.from(want.content_base64, "base64")
                : Buffer.from(want?.content ?? "", "utf8");
            expect(bytes.ok && bytes.bytes.equals(wantBytes)).toBe(true);
            expect(f.path).toBe(want?.path);
            expect(f.owner).toBe(want?.owner);
            const mode = fileMode(f.permissions);
            expect(mode.ok && mode.mode.toString(8).padStart(4, "0")).toBe(want?.mode);
          });
        });
      }

      if (c.fleet_dropin !== undefined && c.etcd2_dropin !== undefined && c.parse_error === null) {
        it("fleet and etcd2 20-cloudinit.conf drop-ins, byte for byte", () => {
          const doc = parseUserData(substitute(c.document, SUBS));
          let wantFleet = c.fleet_dropin?.content ?? "";
          if (c.id === "c107") {
            // Policy #18: Go printed YAML 1.1's octal 010 as 8.
            expect(wantFleet).toContain('"FLEET_VERBOSITY=8"');
            wantFleet = wantFleet.replace('"FLEET_VERBOSITY=8"', '"FLEET_VERBOSITY=10"');
          }
          expect(fleetDropIn(doc.config.coreos.fleet)).toBe(wantFleet);
          expect(etcd2DropIn(doc.config.coreos.etcd2)).toBe(c.etcd2_dropin?.content ?? "");
        });
      }

      if (c.unit_actions !== undefined && c.parse_error === null && c.unit_actions_error === null) {
        it("unit actions (for the units fleet-ts applies) in coreos-cloudinit's order", () => {
          const doc = parseUserData(substitute(c.document, SUBS));
          const accounts = {
            users: [
              { name: "core", uid: 500, gid: 500, home: "/home/core" },
              { name: "root", uid: 0, gid: 0, home: "/root" },
            ],
            groups: ["root", "core", "dogepack", "ping", "pong"].map((name, gid) => ({
              name,
              gid,
            })),
          };
          if (REFUSED_BY_PLANNER.has(c.id)) {
            // coreos-cloudinit would have failed half-way (a write_files entry with no path or a
            // relative one); fleet-ts refuses before writing anything, naming the field.
            expect(() => planCloudConfig(doc.config, accounts)).toThrow(CloudConfigInputError);
            expect(() => planCloudConfig(doc.config, accounts)).toThrow(
              /^write_files\[0\]\.path: /,
            );
            return;
          }
          const plan = planCloudConfig(doc.config, accounts);
          // Actions for the units coreos-cloudinit generated from sections fleet-ts does not
          // apply (coreos.etcd, locksmith, update); units the document lists stay.
          const listed = new Set((doc.config.coreos.units ?? []).map((u) => u.name));
          const notShipped = (u: string) =>
            /^(etcd|locksmithd|update-engine)\.service$/.test(u) && !listed.has(u);
          const want = (c.unit_actions ?? [])
            .filter((a) => a.unit === undefined || !notShipped(a.unit))
            .map((a) => fromFixture(a))
            // Policy #18, as in the drop-in test above.
            .map((a) =>
              c.id === "c107" ? a.replace("FLEET_VERBOSITY=8", "FLEET_VERBOSITY=10") : a,
            );
          const got = plan.actions.filter(isUnitAction).map(toComparable);
          // The daemon-reload coreos-cloudinit ran only for a drop-in of a unit we do not ship.
          const wantNoOrphanReload = want.filter(
            (a, i) => a !== "daemon_reload" || want.slice(0, i).some((x) => x.startsWith("place_")),
          );
          expect(got).toEqual(wantNoOrphanReload);
        });
      }
    });
  }
});

function isUnitAction(a: Action): boolean {
  return !["hostname", "user", "authorized_keys", "write_file"].includes(a.type);
}

function fromFixture(a: Record<string, string>): string {
  switch (a.action) {
    case "place_unit":
      return `place_unit ${a.path} ${JSON.stringify(a.content)}`;
    case "place_dropin":
      return `place_dropin ${a.path} ${JSON.stringify(a.content)}`;
    case "mask":
      return `mask ${a.path}`;
    case "unmask_if_null_or_empty":
      return `unmask ${a.path}`;
    case "enable":
      return `enable ${a.unit} ${a.runtime}`;
    case "daemon_reload":
      return "daemon_reload";
    case "command":
      return `command ${a.command} ${a.unit}`;
    default:
      return `unknown ${a.action}`;
  }
}

function toComparable(a: Action): string {
  switch (a.type) {
    case "place_unit":
      return `place_unit ${a.path} ${JSON.stringify(a.content)}`;
    case "place_dropin":
      return `place_dropin ${a.path} ${JSON.stringify(a.content)}`;
    case "mask":
      return `mask ${a.path}`;
    case "unmask":
      return `unmask ${a.path}`;
    case "enable":
      return `enable ${a.unit} ${a.runtime}`;
    case "daemon_reload":
      return "daemon_reload";
    case "unit_command":
      return `command ${a.command} ${a.unit}`;
    default:
      return a.type;
  }
}
