/**
 * @module cloud-config/validate
 * `fleet-cloudinit --validate`: coreos-cloudinit's validator (config/validate at f1f0405), rule
 * for rule and in its order, so that every verdict and line number agrees with it, except the
 * documented fixes (policy #19 of test/fixtures/VECTORS-README.md):
 * - no spurious `line 0: incorrect type for ""` after a YAML syntax error;
 * - duplicate keys and a document that is not a mapping are errors (Go kept the last key, or
 *   applied nothing, silently);
 * - no `deprecated key` warning for coreos.fleet, coreos.etcd and coreos.etcd2: fleet-ts ships
 *   fleet and runs on etcd.
 */
import { compatible, type ParsedDocument, parseUserData } from "./document.js";
import { goValueString } from "./go-format.js";
import { cloudConfigSpec, type FieldSpec, humanType } from "./schema.js";
import { decodeContent } from "./write-file-content.js";
import type { TreeNode } from "./yaml-tree.js";

export type EntryKind = "error" | "warning" | "info";

export interface ReportEntry {
  readonly kind: EntryKind;
  readonly line: number;
  readonly message: string;
}

export interface ValidationReport {
  readonly entries: readonly ReportEntry[];
  readonly hasErrors: boolean;
}

/** Deprecations of whole sections that fleet-ts does not repeat (it ships fleet and etcd). */
const NOT_DEPRECATED_HERE = new Set(["coreos.fleet", "coreos.etcd", "coreos.etcd2"]);

export function validateUserData(text: string): ValidationReport {
  return validateDocument(parseUserData(text));
}

export function validateDocument(doc: ParsedDocument): ValidationReport {
  const entries: ReportEntry[] = [];
  const add = (kind: EntryKind, line: number, message: string) =>
    entries.push({ kind, line, message });
  const report = () => ({ entries, hasErrors: entries.some((e) => e.kind === "error") });

  if (doc.kind === "unrecognized") {
    add("error", 1, 'must be "#cloud-config" or begin with "#!"');
    return report();
  }
  const tree = doc.tree;
  if (doc.kind !== "cloud-config" || tree === undefined) return report();
  if (tree.syntaxError !== undefined) {
    add("error", tree.syntaxError.line, `YAML syntax: ${tree.syntaxError.message}`);
    return report();
  }
  for (const d of tree.duplicateKeys) add("error", d.line, d.message);
  const root = tree.root;
  if (root === undefined || root.kind === "null") return report();
  if (root.kind !== "map") {
    add(
      "error",
      root.line,
      `the document must be a mapping of keys (like "hostname: web1"), not a ${root.kind === "seq" ? "list" : "single value"}`,
    );
    return report();
  }

  checkDiscoveryUrl(root, add);
  checkEncoding(root, add);
  checkStructure(root, cloudConfigSpec, "", add);
  checkValidity(root, cloudConfigSpec, add);
  checkWriteFiles(root, add);
  checkWriteFilesUnderCoreos(root, add);
  return report();
}

type Add = (kind: EntryKind, line: number, message: string) => void;

function child(node: TreeNode | undefined, name: string): TreeNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** Go's url.ParseRequestURI: an absolute URL (scheme:...) or an absolute path. */
function isRequestUri(s: string): boolean {
  return s.startsWith("/") || /^[A-Za-z][A-Za-z0-9+.-]*:\S*$/.test(s);
}

function checkDiscoveryUrl(root: TreeNode, add: Add): void {
  const c = child(child(child(root, "coreos"), "etcd"), "discovery");
  if (c === undefined) return;
  if (!isRequestUri(c.text)) add("warning", c.line, "discovery URL is not valid");
}

function writeFiles(root: TreeNode): readonly TreeNode[] {
  const wf = child(root, "write_files");
  return wf?.kind === "seq" ? wf.children : [];
}

function checkEncoding(root: TreeNode, add: Add): void {
  for (const f of writeFiles(root)) {
    const e = child(f, "encoding");
    if (e === undefined) continue;
    const c = child(f, "content");
    const result = decodeContent(c?.text ?? "", e.text);
    if (!result.ok) {
      add("error", c?.line ?? e.line, `content cannot be decoded as ${JSON.stringify(e.text)}`);
    }
  }
}

function checkStructure(node: TreeNode, spec: FieldSpec, path: string, add: Add): void {
  if (!compatible(node, spec)) {
    add(
      "warning",
      node.line,
      `incorrect type for ${JSON.stringify(node.name)} (want ${humanType(spec)})`,
    );
    return;
  }
  if (spec.kind === "struct") {
    const fields = spec.fields ?? {};
    for (const c of node.children) {
      const f = Object.hasOwn(fields, c.name) ? fields[c.name] : undefined;
      if (f === undefined) {
        add("warning", c.line, `unrecognized key ${JSON.stringify(c.name)}`);
        continue;
      }
      const childPath = path === "" ? c.name : `${path}.${c.name}`;
      if (f.deprecated !== undefined && !NOT_DEPRECATED_HERE.has(childPath)) {
        add("warning", c.line, `deprecated key ${JSON.stringify(c.name)} (${f.deprecated})`);
      }
      checkStructure(c, f, childPath, add);
    }
  } else if (spec.kind === "slice" && spec.elem !== undefined) {
    for (const c of node.children) checkStructure(c, spec.elem, `${path}[]`, add);
  }
}

function checkValidity(node: TreeNode, spec: FieldSpec, add: Add): void {
  if (spec.valid !== undefined && node.children.length === 0 && compatible(node, spec)) {
    const value = spec.kind === "string" ? node.text : node.value;
    const shown = typeof value === "string" ? value : goValueString(value);
    const zero = value === "" || value === 0 || value === false;
    if (!zero && !spec.valid.test(shown)) add("error", node.line, `invalid value ${shown}`);
  }
  if (spec.kind === "struct") {
    const fields = spec.fields ?? {};
    for (const c of node.children) {
      const f = Object.hasOwn(fields, c.name) ? fields[c.name] : undefined;
      if (f !== undefined) checkValidity(c, f, add);
    }
  } else if (spec.kind === "slice" && spec.elem !== undefined && node.kind === "seq") {
    for (const c of node.children) checkValidity(c, spec.elem, add);
  }
}

function checkWriteFiles(root: TreeNode, add: Add): void {
  for (const f of writeFiles(root)) {
    const p = child(f, "path");
    if (p === undefined) continue;
    if (goPathDir(p.text).startsWith("/usr")) {
      add("error", p.line, "file cannot be written to a read-only filesystem");
    }
  }
}

function checkWriteFilesUnderCoreos(root: TreeNode, add: Add): void {
  const c = child(child(root, "coreos"), "write_files");
  if (c !== undefined) add("info", c.line, "write_files doesn't belong under coreos");
}

/** Go's path.Dir: everything before the last "/", cleaned; "." when there is no "/". */
function goPathDir(p: string): string {
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  const dir = p.slice(0, i);
  return dir === "" ? "/" : dir.replace(/\/+/g, "/");
}
