/**
 * @module units/unit-name
 * Unit names as fleet validated and decomposed them (api.ValidateName, unit.NewUnitNameInfo)
 * and as fleetctl completed them from the command line (unitNameMangle).
 */
import { UnitsError } from "./errors.js";

export class UnitNameError extends UnitsError {
  override name = "UnitNameError";
}

/** systemd's UNIT_NAME_MAX. */
export const UNIT_NAME_MAX = 256;

/** The unit types fleet's API accepts (systemd's, as of fleet v1.0.0). */
export const UNIT_TYPES = [
  "automount",
  "busname",
  "device",
  "mount",
  "path",
  "scope",
  "service",
  "slice",
  "snapshot",
  "socket",
  "swap",
  "target",
  "timer",
] as const;

/** Types that may be templates (`foo@.service`) or instances (`foo@bar.service`). */
export const TEMPLATE_TYPES = ["path", "service", "socket", "target", "timer"] as const;

const VALID_CHAR = /^[0-9a-zA-Z:\-_.\\@]$/u;

const ESCAPES: Readonly<Record<string, string>> = {
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  "'": "\\'",
  "\\": "\\\\",
};

/**
 * A character quoted as Go's %q quotes a rune (`'\t'`, `'\u00a0'`, `'ö'`), so a message shows an
 * invisible or look-alike character unambiguously.
 */
function quoteRune(ch: string): string {
  const escaped = ESCAPES[ch];
  if (escaped !== undefined) return `'${escaped}'`;
  if (ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) return `'${ch}'`;
  const code = ch.codePointAt(0) ?? 0;
  const hex = code.toString(16);
  if (code < 0x80) return `'\\x${hex.padStart(2, "0")}'`;
  if (code < 0x10000) return `'\\u${hex.padStart(4, "0")}'`;
  return `'\\U${hex.padStart(8, "0")}'`;
}

/**
 * Why `name` is not a valid unit name, or undefined if it is. Same verdicts as fleet's
 * api.ValidateName (the wording says how to fix it).
 */
export function unitNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) return "unit name cannot be empty: give a name like web.service";
  if (bytes > UNIT_NAME_MAX) {
    return `unit name is ${bytes} bytes long; the limit is ${UNIT_NAME_MAX}: shorten it`;
  }
  const dot = name.lastIndexOf(".");
  if (dot === -1)
    return `unit name ${JSON.stringify(name)} has no type: add a suffix like .service`;
  if (dot === name.length - 1) {
    return `unit name ${JSON.stringify(name)} cannot end in ".": end it with a type like .service`;
  }
  const suffix = name.slice(dot + 1);
  if (!(UNIT_TYPES as readonly string[]).includes(suffix)) {
    return `invalid unit type ${JSON.stringify(suffix)} in ${JSON.stringify(name)}: use one of ${UNIT_TYPES.join(", ")}`;
  }
  if (name.includes("@") && !(TEMPLATE_TYPES as readonly string[]).includes(suffix)) {
    return `${JSON.stringify(name)}: a ${suffix} unit cannot be a template or instance (@); only ${TEMPLATE_TYPES.join(", ")} can`;
  }
  for (const ch of name.slice(0, dot)) {
    if (!VALID_CHAR.test(ch)) {
      return `invalid character ${quoteRune(ch)} in unit name ${JSON.stringify(name)}: use letters, digits and :-_.\\@`;
    }
  }
  if (name.startsWith("@")) {
    return `unit name ${JSON.stringify(name)} cannot start with "@": put a name before it, like web@.service`;
  }
  return undefined;
}

export function isValidUnitName(name: string): boolean {
  return unitNameProblem(name) === undefined;
}

/** @throws UnitNameError naming the problem. */
export function assertValidUnitName(name: string): void {
  const problem = unitNameProblem(name);
  if (problem !== undefined) throw new UnitNameError(problem);
}

/** A unit name taken apart (fleet's UnitNameInfo): split at the first "@" and the last ".". */
export interface UnitNameInfo {
  /** `foo@bar.service` */
  readonly fullName: string;
  /** Without the type: `foo@bar` */
  readonly name: string;
  /** Before the "@": `foo` */
  readonly prefix: string;
  /** The template this is an instance of, `foo@.service`; "" if no "@". */
  readonly template: string;
  /** After the "@": `bar`; "" for a template or a plain unit. */
  readonly instance: string;
  readonly isInstance: boolean;
  readonly isTemplate: boolean;
}

/** fleet's NewUnitNameInfo; undefined when the name has no ".". */
export function unitNameInfo(fullName: string): UnitNameInfo | undefined {
  const dot = fullName.lastIndexOf(".");
  if (dot === -1) return undefined;
  const name = fullName.slice(0, dot);
  const suffix = fullName.slice(dot);
  const at = name.indexOf("@");
  if (at === -1) {
    return {
      fullName,
      name,
      prefix: name,
      template: "",
      instance: "",
      isInstance: false,
      isTemplate: false,
    };
  }
  const instance = name.slice(at + 1);
  const template = `${name.slice(0, at)}@${suffix}`;
  return {
    fullName,
    name,
    prefix: name.slice(0, at),
    template,
    instance,
    isInstance: instance.length > 0,
    isTemplate: instance.length === 0,
  };
}

/**
 * The instance `instance` of `template`: `web@.service` + `1` → `web@1.service`.
 * @throws UnitNameError if `template` is not a template or the result is not a valid name.
 */
export function instanceName(template: string, instance: string): string {
  const info = unitNameInfo(template);
  if (info === undefined || !info.isTemplate) {
    throw new UnitNameError(
      `${JSON.stringify(template)} is not a template unit name: a template has an "@" right before its type, like web@.service`,
    );
  }
  if (instance === "") {
    throw new UnitNameError(
      `the instance of ${JSON.stringify(template)} cannot be empty: give one, like ${info.prefix}@1${template.slice(template.lastIndexOf("."))}`,
    );
  }
  const name = `${info.prefix}@${instance}${template.slice(template.lastIndexOf("."))}`;
  assertValidUnitName(name);
  return name;
}

/** Whether the name ends in a unit type fleetctl recognises (all 13; fleet knew only 7). */
export function hasUnitType(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot !== -1 && (UNIT_TYPES as readonly string[]).includes(name.slice(dot + 1));
}

/**
 * What fleetctl makes of a command-line argument: the file's base name, with `.service`
 * appended unless it already ends in a unit type. (fleet knew only 7 types, so
 * `fleetctl start foo.target` looked for `foo.target.service`; fleet-ts knows all 13.)
 */
export function mangleUnitName(arg: string): string {
  const base = goPathBase(arg);
  return hasUnitType(base) ? base : `${base}.service`;
}

/** Go's path.Base: last element after removing trailing slashes; "." for "", "/" for "/". */
function goPathBase(p: string): string {
  if (p === "") return ".";
  let s = p.replace(/\/+$/, "");
  if (s === "") return "/";
  const slash = s.lastIndexOf("/");
  if (slash >= 0) s = s.slice(slash + 1);
  return s;
}
