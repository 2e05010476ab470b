/**
 * @module cloud-config/document
 * User data → what kind it is → (for a `#cloud-config`) the typed CloudConfig, decoded the way
 * coreos-cloudinit's Go YAML decoder filled its structs: keys with "-" or "_", a mistyped value
 * left at its zero value, a list with an element of the wrong shape dropped as a whole.
 */
import { type CloudConfig, cloudConfigSpec, type FieldSpec, zeroValue } from "./schema.js";
import { type ParsedTree, parseTree, type TreeNode } from "./yaml-tree.js";

export type UserDataKind = "empty" | "script" | "cloud-config" | "ignition" | "unrecognized";

export function userDataKind(text: string): UserDataKind {
  if (text.length === 0) return "empty";
  if (text.startsWith("#!")) return "script";
  if (isIgnition(text)) return "ignition";
  if (hasCloudConfigHeader(text)) return "cloud-config";
  return "unrecognized";
}

/** The first line, without trailing white space, is exactly `#cloud-config`. */
export function hasCloudConfigHeader(text: string): boolean {
  const first = text.split("\n", 1)[0] ?? "";
  return first.replace(/\s+$/u, "") === "#cloud-config";
}

/** coreos-cloudinit's test: JSON with an `ignitionVersion` or an `ignition.version` field. */
function isIgnition(text: string): boolean {
  if (!text.trimStart().startsWith("{")) return false;
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== "object") return false;
    const o = v as Record<string, unknown>;
    if ("ignitionVersion" in o) return true;
    const ign = o.ignition;
    return ign !== null && typeof ign === "object" && "version" in (ign as object);
  } catch {
    return false;
  }
}

export interface ParsedDocument {
  readonly kind: UserDataKind;
  readonly tree: ParsedTree | undefined;
  /** The typed config; the zero config when the document is not a valid cloud-config. */
  readonly config: CloudConfig;
}

export function emptyConfig(): CloudConfig {
  return cloudConfigSpec.schema.parse(zeroValue(cloudConfigSpec));
}

/** Parses user data. Never throws on bad input: problems are for `validate` to report. */
export function parseUserData(text: string): ParsedDocument {
  const kind = userDataKind(text);
  if (kind !== "cloud-config") return { kind, tree: undefined, config: emptyConfig() };
  // coreos-cloudinit dropped every \r before looking for keys; YAML itself accepts CRLF.
  const tree = parseTree(text);
  if (tree.root === undefined) return { kind, tree, config: emptyConfig() };
  const decoded = decode(tree.root, cloudConfigSpec);
  return {
    kind,
    tree,
    config: cloudConfigSpec.schema.parse(decoded.ok ? decoded.value : zeroValue(cloudConfigSpec)),
  };
}

type Decoded = { ok: true; value: unknown } | { ok: false };

/** Whether a node of this YAML kind may fill a field of this Go kind (validate/rules.go). */
export function compatible(node: TreeNode, spec: FieldSpec): boolean {
  switch (spec.kind) {
    case "string":
      return (
        node.kind === "string" ||
        node.kind === "int" ||
        node.kind === "float" ||
        node.kind === "bool"
      );
    case "struct":
      return node.kind === "map";
    case "float":
      return node.kind === "float" || node.kind === "int";
    case "int":
      return node.kind === "int";
    case "bool":
      return node.kind === "bool";
    case "slice":
      return node.kind === "seq";
  }
}

function decode(node: TreeNode, spec: FieldSpec): Decoded {
  if (!compatible(node, spec)) return { ok: false };
  switch (spec.kind) {
    case "string":
      return { ok: true, value: node.text };
    case "int":
    case "float":
      // JSON-safe numbers only: .inf and .nan would make no sense in a drop-in.
      return { ok: true, value: Number.isFinite(node.value) ? node.value : 0 };
    case "bool":
      return { ok: true, value: node.value };
    case "struct": {
      const out = zeroValue(spec) as Record<string, unknown>;
      const fields = spec.fields ?? {};
      for (const child of node.children) {
        const f = Object.hasOwn(fields, child.name) ? fields[child.name] : undefined;
        if (f === undefined) continue;
        const d = decode(child, f);
        // The last of duplicate keys wins, as it did in Go.
        out[child.name] = d.ok ? d.value : zeroValue(f);
      }
      return { ok: true, value: out };
    }
    case "slice": {
      const elem = spec.elem;
      if (elem === undefined) return { ok: false };
      const items: unknown[] = [];
      for (const child of node.children) {
        const d = decode(child, elem);
        if (!d.ok) return { ok: false };
        items.push(d.value);
      }
      return { ok: true, value: items };
    }
  }
}
