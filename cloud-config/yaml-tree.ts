/**
 * @module cloud-config/yaml-tree
 * The document as a tree of positioned nodes, the way coreos-cloudinit's validator sees it
 * (its "weak" tree): every key and list item with its 1-based line, its YAML kind, and for a
 * scalar both its resolved value and its source text (a string field takes the text, so
 * `permissions: 0744` stays "0744" and `reboot-strategy: off` stays "off").
 *
 * Scalars resolve as coreos-cloudinit's YAML did for booleans and nulls (YAML 1.1: yes/no/on/off/
 * y/n are booleans, which users of cloud-config rely on) but as YAML 1.2 for numbers: `010` is
 * ten, not eight (policy #18 of test/fixtures/VECTORS-README.md; docs/cloud-config.md).
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
} from "yaml";

export type NodeKind = "string" | "int" | "float" | "bool" | "null" | "map" | "seq";

export interface TreeNode {
  /** Key name with "-" turned into "_" (coreos-cloudinit accepts both), or `parent[i]`. */
  readonly name: string;
  /** The key as written. */
  readonly rawName: string;
  readonly line: number;
  readonly kind: NodeKind;
  /** Scalars only: the resolved value. */
  readonly value: string | number | boolean | null;
  /** Scalars only: the text (after quote and escape processing). */
  readonly text: string;
  readonly children: readonly TreeNode[];
}

export interface YamlProblem {
  readonly line: number;
  readonly message: string;
}

export interface ParsedTree {
  /** Undefined when the YAML itself is broken (see `syntaxError`). */
  readonly root: TreeNode | undefined;
  readonly syntaxError: YamlProblem | undefined;
  /** Keys given twice in one mapping: coreos-cloudinit silently kept the last. */
  readonly duplicateKeys: readonly YamlProblem[];
}

const NULLS = new Set(["", "~", "null", "Null", "NULL"]);
const TRUE = new Set(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]);
const FALSE = new Set(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]);
const INT_DEC = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const INT_OCT = /^0o[0-7]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INF = /^[-+]?\.(inf|Inf|INF)$/;
const NAN = /^\.(nan|NaN|NAN)$/;

/** A plain scalar's kind and value (see the module comment for which YAML rules apply). */
export function resolvePlain(text: string): {
  kind: NodeKind;
  value: string | number | boolean | null;
} {
  if (NULLS.has(text)) return { kind: "null", value: null };
  if (TRUE.has(text)) return { kind: "bool", value: true };
  if (FALSE.has(text)) return { kind: "bool", value: false };
  if (INT_DEC.test(text) || INT_HEX.test(text) || INT_OCT.test(text)) {
    const sign = text.startsWith("-") ? -1 : 1;
    const digits = text.replace(/^[-+]/, "");
    const n = digits.startsWith("0o") ? Number.parseInt(digits.slice(2), 8) : Number(digits);
    const value = sign * n;
    return Number.isSafeInteger(value) ? { kind: "int", value } : { kind: "float", value };
  }
  if (FLOAT.test(text)) return { kind: "float", value: Number(text) };
  if (INF.test(text)) return { kind: "float", value: text.startsWith("-") ? -Infinity : Infinity };
  if (NAN.test(text)) return { kind: "float", value: Number.NaN };
  return { kind: "string", value: text };
}

const TAG = "tag:yaml.org,2002:";
/** Aliases may expand to huge trees ("billion laughs"): a cloud-config never needs many. */
const MAX_ALIASES = 1000;

function scalarNode(
  s: Scalar,
  name: string,
  rawName: string,
  line: number,
  docText: string,
): TreeNode {
  const base = { name, rawName, line, children: [] };
  if (Buffer.isBuffer(s.value)) {
    // !!binary: coreos-cloudinit's YAML decoded it into the string it stored.
    const text = s.value.toString("utf8");
    return { ...base, kind: "string", value: text, text };
  }
  let text = typeof s.source === "string" ? s.source : String(s.value ?? "");
  // A block scalar that ends the input without a line break has none (YAML spec, and Go):
  // the yaml package adds one.
  if (
    (s.type === "BLOCK_LITERAL" || s.type === "BLOCK_FOLDED") &&
    s.range?.[1] === docText.length &&
    !docText.endsWith("\n") &&
    text.endsWith("\n")
  ) {
    text = text.slice(0, -1);
  }
  const tag = s.tag ?? "";
  if (tag === `${TAG}str` || tag === `${TAG}binary`) {
    return { ...base, kind: "string", value: text, text };
  }
  if (s.type === "PLAIN" || tag.startsWith(TAG)) {
    const r = resolvePlain(text);
    return { ...base, kind: r.kind, value: r.value, text };
  }
  return { ...base, kind: "string", value: text, text };
}

function keyText(key: unknown): string {
  if (isScalar(key)) {
    if (Buffer.isBuffer(key.value)) return key.value.toString("utf8");
    return typeof key.source === "string" ? key.source : String(key.value ?? "");
  }
  if (key === null || key === undefined) return "";
  // A complex key (a map or list used as a key): Go printed it with %s; any text will do.
  return String(key);
}

function parseWithLines(text: string) {
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    schema: "failsafe",
    customTags: [],
    lineCounter: lc,
    uniqueKeys: false,
    prettyErrors: false,
    keepSourceTokens: false,
  });
  return { doc, lc };
}

export function parseTree(original: string): ParsedTree {
  let text = original;
  let { doc, lc } = parseWithLines(text);
  if (doc.errors.length > 0) {
    // coreos-cloudinit's libyaml accepted quoted values whose continuation lines are not
    // indented under their key (YAML 1.2 forbids it; fixture c083 and many real documents do
    // it). Indenting those lines changes neither the value (a quoted scalar folds leading
    // white space away) nor any line number, so retry once that way.
    const repaired = indentQuotedContinuations(text);
    if (repaired !== text) {
      const again = parseWithLines(repaired);
      if (again.doc.errors.length === 0) {
        text = repaired;
        ({ doc, lc } = again);
      }
    }
  }
  const lineOf = (offset: number | undefined) =>
    offset === undefined ? 1 : lc.linePos(offset).line;
  const first = doc.errors[0];
  if (first !== undefined) {
    return {
      root: undefined,
      syntaxError: {
        line: Math.min(lineOf(first.pos[0]), lastContentLine(text)),
        message: first.message.split("\n")[0] ?? "",
      },
      duplicateKeys: [],
    };
  }
  const duplicates: YamlProblem[] = [];
  let aliases = 0;

  const build = (node: unknown, name: string, rawName: string, line: number): TreeNode => {
    const base = { name, rawName, line, value: null, text: "" };
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target !== undefined && ++aliases <= MAX_ALIASES)
        return build(target, name, rawName, line);
      return { ...base, kind: "null", children: [] };
    }
    if (isMap(node)) {
      const seen = new Map<string, number>();
      const children: TreeNode[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const raw = keyText(pair.key);
        const keyLine = lineOf((pair.key as Node | null)?.range?.[0] ?? node.range?.[0]);
        const norm = raw.replaceAll("-", "_");
        const prev = seen.get(norm);
        if (prev !== undefined) {
          duplicates.push({
            line: keyLine,
            message: `duplicate key ${JSON.stringify(raw)} (also on line ${prev}); remove one of them`,
          });
        }
        seen.set(norm, keyLine);
        children.push(build(pair.value, norm, raw, keyLine));
      }
      return { ...base, kind: "map", children };
    }
    if (isSeq(node)) {
      const children = node.items.map((item, i) => {
        const itemLine = lineOf((item as Node | null)?.range?.[0] ?? node.range?.[0]);
        return build(item, `${name}[${i}]`, `${rawName}[${i}]`, itemLine);
      });
      return { ...base, kind: "seq", children };
    }
    if (isScalar(node)) return scalarNode(node, name, rawName, line, text);
    // An absent value (`key:` with nothing after it) is YAML null.
    return { ...base, kind: "null", children: [] };
  };

  let contents: unknown = doc.contents;
  // An alias at the top resolves to what it names.
  if (contents !== null && typeof contents === "object" && "resolve" in contents) {
    contents = (contents as { resolve(d: unknown): unknown }).resolve(doc);
  }
  const root = build(contents, "", "", lineOf((contents as Node | null)?.range?.[0]));
  return { root, syntaxError: undefined, duplicateKeys: duplicates };
}

/** An error found at the end of the input is reported on the last line that has content. */
function lastContentLine(text: string): number {
  const lines = text.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) if ((lines[i] ?? "").trim() !== "") return i + 1;
  return 1;
}

/** `key: 'text` or `- "text` whose quote does not close on its line: the opening indentation. */
const QUOTED_VALUE_START = /^( *)(- +)?(?:[^\s#'"][^#'"]*?: +)?(['"])/;

/** Where the quoted scalar that opens at `from` on `line` closes, or -1 if not on this line. */
function closingQuote(line: string, from: number, quote: string): number {
  for (let i = from; i < line.length; i++) {
    const ch = line[i];
    if (quote === '"' && ch === "\\") {
      i++;
      continue;
    }
    if (ch !== quote) continue;
    if (quote === "'" && line[i + 1] === "'") {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/**
 * Indents the continuation lines of multi-line quoted values one column deeper than the line
 * that opens them, when they are not already; everything else is left byte for byte.
 */
export function indentQuotedContinuations(text: string): string {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const m = QUOTED_VALUE_START.exec(line);
    if (m === null) continue;
    const quote = m[3] ?? '"';
    // The column of the key (after a list dash): continuation lines must be deeper than it.
    const indent = (m[1] ?? "").length + (m[2] ?? "").length;
    if (closingQuote(line, m[0].length, quote) >= 0) continue;
    for (let j = i + 1; j < lines.length; j++) {
      const cont = lines[j] ?? "";
      const lead = cont.length - cont.trimStart().length;
      if (cont.trim() !== "" && lead <= indent)
        lines[j] = `${" ".repeat(indent + 1 - lead)}${cont}`;
      if (closingQuote(cont, 0, quote) >= 0) {
        i = j;
        break;
      }
    }
  }
  return lines.join("\n");
}

/**
 * The line of a field path such as `write_files[2].owner` or `coreos.units[0].name` (keys with
 * "-" or "_"), or of its nearest ancestor that is in the document; undefined if none is.
 */
export function lineOfField(root: TreeNode | undefined, field: string): number | undefined {
  let node = root;
  let line: number | undefined;
  for (const part of field.split(".")) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (m === null || node === undefined) break;
    node = node.children.find((c) => c.name === m[1]);
    if (node === undefined) break;
    line = node.line;
    for (const idx of (m[2] ?? "").match(/\d+/g) ?? []) {
      node = node?.kind === "seq" ? node.children[Number(idx)] : undefined;
      if (node === undefined) break;
      line = node.line;
    }
  }
  return line;
}
