/**
 * @module units/unit-file
 * Unit files as fleet read, stored and hashed them: the ordered list of options that
 * go-systemd's lexer (fleet v1.0.0's vendored copy) produced, fleet's canonical
 * re-serialization, and the SHA-1 of that text that `fleetctl list-unit-files` shows as HASH.
 *
 * Every file fleet accepted and systemd accepts gives the same options, text and hash here.
 * Where fleet's lexer had traps, this one refuses with the line and a fix instead (see
 * docs/unit-files.md, "Differences from fleet"):
 * - one line-length limit (2047 bytes a line), not one that depended on read-buffer state;
 * - CRLF is a line ending everywhere, continuations included;
 * - a section header must close on its own line (`[Unit` then `Foo]` on the next is refused);
 * - a value that would not survive fleet's own re-serialization (one that ends in a
 *   backslash) is refused, so what is stored always reads back the same.
 */
import { createHash } from "node:crypto";
import { UnitsError } from "./errors.js";
import { goTrimSpace, isGoSpace } from "./go-strings.js";
import type { UnitOption } from "./unit-option.js";

/** A unit file: its options in file order. Build one with `parseUnitFile`. */
export interface UnitFile {
  readonly options: readonly UnitOption[];
}

/** The unit text is not a unit file fleet-ts accepts; `line` is 1-based. */
export class UnitFileParseError extends UnitsError {
  override name = "UnitFileParseError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** Longest line, in bytes without its line ending: fleet's nominal limit (2048 with it). */
export const MAX_LINE_BYTES = 2047;

const isComment = (ch: string): boolean => ch === "#" || ch === ";";

/**
 * Text from bytes the way fleet's API stored it: fleetctl sent options as JSON, and Go's JSON
 * encoder replaces invalid UTF-8 with U+FFFD, so the server never saw the raw bytes (fleet's lexer
 * did the same in option names). Go replaces each invalid byte with its own U+FFFD, where
 * TextDecoder replaces a whole truncated sequence with one: the hash depends on the difference.
 */
function toText(input: string | Uint8Array): string {
  // Lone surrogates cannot be encoded; U+FFFD is what Buffer.from would write anyway.
  if (typeof input === "string") return input.toWellFormed();
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(input);
  } catch {
    return decodeUtf8LikeGo(input);
  }
}

/** Go's `utf8.DecodeRune` over the whole input: an invalid byte becomes one U+FFFD. */
function decodeUtf8LikeGo(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const [cp, size] = decodeRune(bytes, i);
    out += String.fromCodePoint(cp);
    i += size;
  }
  return out;
}

const RUNE_ERROR: [number, number] = [0xfffd, 1];

function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c0 = b[i] as number;
  if (c0 < 0x80) return [c0, 1];
  const cont = (k: number, lo = 0x80, hi = 0xbf): number | undefined => {
    const c = b[i + k];
    return c !== undefined && c >= lo && c <= hi ? c & 0x3f : undefined;
  };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    const c1 = cont(1);
    return c1 === undefined ? RUNE_ERROR : [((c0 & 0x1f) << 6) | c1, 2];
  }
  if (c0 >= 0xe0 && c0 <= 0xef) {
    // Second-byte ranges exclude overlong forms (E0) and UTF-16 surrogates (ED), as Go does.
    const c1 = cont(1, c0 === 0xe0 ? 0xa0 : 0x80, c0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 === undefined ? undefined : cont(2);
    return c1 === undefined || c2 === undefined
      ? RUNE_ERROR
      : [((c0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    const c1 = cont(1, c0 === 0xf0 ? 0x90 : 0x80, c0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 === undefined ? undefined : cont(2);
    const c3 = c2 === undefined ? undefined : cont(3);
    return c1 === undefined || c2 === undefined || c3 === undefined
      ? RUNE_ERROR
      : [((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return RUNE_ERROR;
}

/**
 * Parses unit-file text (or bytes, read as UTF-8) into its options, in file order.
 * @throws UnitFileParseError with the line and how to fix it.
 * @example parseUnitFile("[Service]\nExecStart=/bin/true\n").options
 *   // [{ section: "Service", name: "ExecStart", value: "/bin/true" }]
 */
export function parseUnitFile(input: string | Uint8Array): UnitFile {
  let text = toText(input);
  if (text.startsWith("\ufeff")) text = text.slice(1); // systemd skips a UTF-8 BOM too
  text = text.replace(/\r\n/g, "\n");
  checkLineLengths(text);
  return { options: new Lexer(text).lex() };
}

function checkLineLengths(text: string): void {
  // Cheap pre-check: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= MAX_LINE_BYTES) return;
  let line = 1;
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl;
    if (end - start > MAX_LINE_BYTES / 3 || nl < 0) {
      const bytes = Buffer.byteLength(text.slice(start, end));
      if (bytes > MAX_LINE_BYTES) {
        throw new UnitFileParseError(
          line,
          `line is ${bytes} bytes long; the limit is ${MAX_LINE_BYTES}: split a long value over several lines, each but the last ending in a backslash (\\)`,
        );
      }
    }
    if (nl < 0) return;
    start = nl + 1;
    line++;
  }
}

/** A port of go-systemd's lexer (unit/deserialize.go at efa0506), a state machine over text. */
class Lexer {
  #i = 0;
  #line = 1;
  readonly #opts: UnitOption[] = [];

  constructor(private readonly s: string) {}

  lex(): UnitOption[] {
    let next: (() => void) | undefined = () => this.#beforeFirstSection();
    // Each step returns the next; iterative so a huge file cannot overflow the stack.
    while (next !== undefined) {
      this.#next = undefined;
      next();
      next = this.#next;
    }
    return this.#opts;
  }

  #next: (() => void) | undefined;

  #readChar(): string | undefined {
    if (this.#i >= this.s.length) return undefined;
    const cp = this.s.codePointAt(this.#i) as number;
    const ch = String.fromCodePoint(cp);
    this.#i += ch.length;
    if (ch === "\n") this.#line++;
    return ch;
  }

  /** One line without its "\n"; `eof` when it was the last (no "\n" after it). */
  #toEOL(): { line: string; eof: boolean } {
    const nl = this.s.indexOf("\n", this.#i);
    if (nl < 0) {
      let line = this.s.slice(this.#i);
      this.#i = this.s.length;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      return { line, eof: true };
    }
    const line = this.s.slice(this.#i, nl);
    this.#i = nl + 1;
    this.#line++;
    return { line, eof: false };
  }

  #beforeFirstSection(): void {
    const ch = this.#readChar();
    if (ch === undefined) return;
    if (ch === "[") {
      this.#next = () => this.#sectionName();
    } else if (isComment(ch)) {
      this.#next = () => this.#ignoreLine(() => this.#beforeFirstSection());
    } else {
      // Text before the first section is ignored, by fleet and by systemd alike
      // ("Assignment outside of section. Ignoring.").
      this.#next = () => this.#beforeFirstSection();
    }
  }

  #sectionName(): void {
    const start = this.#i;
    const line = this.#line;
    const close = this.s.indexOf("]", start);
    const nl = this.s.indexOf("\n", start);
    if (close < 0 || (nl >= 0 && nl < close)) {
      throw new UnitFileParseError(
        line,
        "section header is not closed: write it as [Name] on one line",
      );
    }
    const section = this.s.slice(start, close);
    this.#i = close + 1;
    this.#next = () => this.#sectionSuffix(section);
  }

  #sectionSuffix(section: string): void {
    const line = this.#line;
    const rest = this.#toEOL().line;
    const garbage = goTrimSpace(rest);
    if (garbage.length > 0) {
      throw new UnitFileParseError(
        line,
        rest.includes("\r")
          ? `unexpected text ${JSON.stringify(garbage)} after the section header [${section}]: the file seems to end lines with a carriage return (\\r) alone, which is not a line ending here; save it with \\n or \\r\\n line endings`
          : `unexpected text ${JSON.stringify(garbage)} after the section header [${section}]; put options on their own lines`,
      );
    }
    this.#next = () => this.#sectionOrOption(section);
  }

  #ignoreLine(then: () => void): void {
    for (;;) {
      let { line, eof } = this.#toEOL();
      // go-systemd removes exactly one trailing space before looking for a continuation.
      if (line.endsWith(" ")) line = line.slice(0, -1);
      if (!line.endsWith("\\") || eof) break;
    }
    this.#next = then;
  }

  #sectionOrOption(section: string): void {
    const ch = this.#readChar();
    if (ch === undefined) return;
    if (isGoSpace(ch)) {
      this.#next = () => this.#sectionOrOption(section);
    } else if (ch === "[") {
      this.#next = () => this.#sectionName();
    } else if (isComment(ch)) {
      this.#next = () => this.#ignoreLine(() => this.#sectionOrOption(section));
    } else {
      this.#i -= ch.length;
      this.#next = () => this.#optionName(section);
    }
  }

  #optionName(section: string): void {
    const line = this.#line;
    const nl = this.s.indexOf("\n", this.#i);
    const lineEnd = nl < 0 ? this.s.length : nl;
    // Search only this line: scanning to the end of the file per option would be quadratic.
    const rest = this.s.slice(this.#i, lineEnd);
    const eqInLine = rest.indexOf("=");
    const crInLine = rest.indexOf("\r");
    const eq = eqInLine < 0 ? -1 : this.#i + eqInLine;
    const cr = crInLine < 0 ? -1 : this.#i + crInLine;
    const stop = Math.min(nl < 0 ? Infinity : nl, cr < 0 ? Infinity : cr);
    if (eq < 0 || stop < eq) {
      const what = goTrimSpace(this.s.slice(this.#i, Math.min(stop, this.s.length)));
      throw new UnitFileParseError(
        line,
        this.s[stop] === "\r"
          ? `a carriage return (\\r) inside the option name ${JSON.stringify(what)}; use \\n or \\r\\n line endings`
          : `${JSON.stringify(what)} is not an option: write Name=Value, or start the line with # to make it a comment`,
      );
    }
    const name = goTrimSpace(this.s.slice(this.#i, eq));
    this.#i = eq + 1;
    this.#next = () => this.#optionValue(section, name, line);
  }

  #optionValue(section: string, name: string, firstLine: number): void {
    let partial = "";
    for (;;) {
      const { line, eof } = this.#toEOL();
      if (goTrimSpace(line).length === 0) break;
      partial += line;
      if (!line.endsWith("\\")) break;
      if (eof) break;
      partial += "\n";
    }
    const value = partial.endsWith("\n") ? `${goTrimSpace(partial)}\n` : goTrimSpace(partial);
    if (value.endsWith("\\")) {
      throw new UnitFileParseError(
        firstLine,
        `the value of ${name} ends with a backslash that continues nothing (fleet would store it so that it swallows the next line); remove the backslash, or the spaces after it if you meant to continue the value on the next line`,
      );
    }
    this.#opts.push({ section, name, value });
    this.#next = () => this.#sectionOrOption(section);
  }
}

/**
 * fleet's canonical text of a unit (`UnitFile.String()`): options grouped by section, sections
 * in the order of their first option, `Name=Value` lines, a blank line between sections.
 * Comments, blank lines, empty sections and spacing are not kept.
 */
export function serializeUnitFile(options: readonly UnitOption[]): string {
  const parts: string[] = [];
  for (const [section, opts] of groupBySection(options)) {
    let text = `[${section}]\n`;
    for (const opt of opts) text += `${opt.name}=${opt.value}\n`;
    parts.push(text);
  }
  return parts.join("\n");
}

function groupBySection(options: readonly UnitOption[]): Map<string, UnitOption[]> {
  const bySection = new Map<string, UnitOption[]>();
  for (const opt of options) {
    const list = bySection.get(opt.section);
    if (list === undefined) bySection.set(opt.section, [opt]);
    else list.push(opt);
  }
  return bySection;
}

/**
 * The options in the order fleet's canonical text lists them (grouped by section): what
 * `parseUnitFile(serializeUnitFile(options)).options` gives back.
 */
export function canonicalOptions(options: readonly UnitOption[]): UnitOption[] {
  return [...groupBySection(options).values()].flat();
}

/** fleet's unit hash: SHA-1 (hex) of the canonical text. Equal hashes mean equal units. */
export function unitHash(options: readonly UnitOption[]): string {
  return createHash("sha1").update(serializeUnitFile(options), "utf8").digest("hex");
}

/** The 7 characters `fleetctl list-unit-files` shows. */
export function shortHash(hash: string): string {
  return hash.slice(0, 7);
}

/** The first `[Unit] Description=`, or "" (fleet's `UnitFile.Description()`). */
export function unitDescription(options: readonly UnitOption[]): string {
  return options.find((o) => o.section === "Unit" && o.name === "Description")?.value ?? "";
}
