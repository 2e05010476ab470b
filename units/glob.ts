/**
 * @module units/glob
 * Go's `path.Match`, which fleet used for `Conflicts=` and `Replaces=` patterns: `*` and `?`
 * never match "/", `[...]` classes with ranges and `^`, `\` escapes. A malformed pattern
 * matches nothing (fleet logged the error and treated it as no match).
 */

class BadPattern extends Error {}

/** Whether `name` matches the glob `pattern`; false for a malformed pattern. */
export function globMatches(pattern: string, name: string): boolean {
  return compileGlob(pattern)(name);
}

const compiled = new Map<string, (name: string) => boolean>();

/**
 * A matcher for `pattern`, compiled once to a regular expression (the scheduler matches
 * every Conflicts glob against every unit name). The interpreter below (a port of Go's
 * algorithm) decides whether the pattern is well formed; the regex only runs valid ones.
 */
export function compileGlob(pattern: string): (name: string) => boolean {
  let fn = compiled.get(pattern);
  if (fn !== undefined) return fn;
  if (!isValidGlob(pattern)) fn = () => false;
  else if (!isGlobPattern(pattern)) fn = (name) => name === pattern;
  else if (pattern.includes("*") && pattern.includes("[")) {
    // Go commits to the first place a chunk after a star matches; a regex backtracks. They
    // differ only when a chunk can match "/", which a class can: `*[/a]*` does not match "a/"
    // in Go (the class takes the "a", the last star cannot take the "/").
    fn = (name) => globMatchesSlowly(pattern, name);
  } else {
    const re = new RegExp(`^${toRegExpSource([...pattern])}$`, "u");
    fn = (name) => re.test(name);
  }
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(pattern, fn);
  return fn;
}

/** The text before the first metacharacter: every match starts with it. */
export function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?[\\]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

/** Escapes for the `u` flag, which allows `\-` only inside a class. */
const escapeRe = (ch: string) => ch.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
const escapeClass = (ch: string) => ch.replace(/[\\^\][-]/g, "\\$&");

function toRegExpSource(p: readonly string[]): string {
  let out = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "\\") out += escapeRe(p[++i] as string);
    else if (c === "[") {
      i++;
      let cls = "";
      let negated = false;
      if (p[i] === "^") {
        negated = true;
        i++;
      }
      let first = true;
      while (first || p[i] !== "]") {
        first = false;
        let lo = p[i] as string;
        if (lo === "\\") lo = p[++i] as string;
        i++;
        let hi = lo;
        if (p[i] === "-") {
          hi = p[++i] as string;
          if (hi === "\\") hi = p[++i] as string;
          i++;
        }
        // Go accepts a reversed range such as [c-a] and matches nothing with it.
        if ((lo.codePointAt(0) as number) <= (hi.codePointAt(0) as number)) {
          cls += lo === hi ? escapeClass(lo) : `${escapeClass(lo)}-${escapeClass(hi)}`;
        }
      }
      // A class takes one character, "/" included.
      if (cls === "") out += negated ? "[\\s\\S]" : "(?!)";
      else out += negated ? `[^${cls}]` : `[${cls}]`;
    } else out += escapeRe(c);
  }
  return out;
}

/** The reference: Go's path.Match algorithm itself, slow; `compileGlob` must agree with it. */
export function globMatchesSlowly(pattern: string, name: string): boolean {
  try {
    return match([...pattern], [...name]);
  } catch (err) {
    if (err instanceof BadPattern) return false;
    throw err;
  }
}

/** Whether `pattern` is a well-formed glob. */
export function isValidGlob(pattern: string): boolean {
  try {
    match([...pattern], []);
    // Go checks the rest of a pattern only when a match fails; make one fail at every chunk.
    matchAllChunks([...pattern]);
    return true;
  } catch (err) {
    if (err instanceof BadPattern) return false;
    throw err;
  }
}

/** True if the text contains glob metacharacters (otherwise it can only match itself). */
export function isGlobPattern(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

type Runes = readonly string[];

function matchAllChunks(pattern: Runes): void {
  let p = pattern;
  while (p.length > 0) {
    const next = scanChunk(p);
    p = next.rest;
    matchChunk(next.chunk, []);
  }
}

function match(pattern: Runes, name: Runes): boolean {
  let p = pattern;
  let n = name;
  outer: while (p.length > 0) {
    const { star, chunk, rest } = scanChunk(p);
    p = rest;
    if (star && chunk.length === 0) return !n.includes("/");
    const here = matchChunk(chunk, n);
    if (here !== undefined && (here.length === 0 || p.length > 0)) {
      n = here;
      continue;
    }
    if (star) {
      for (let i = 0; i < n.length && n[i] !== "/"; i++) {
        const t = matchChunk(chunk, n.slice(i + 1));
        if (t !== undefined) {
          if (p.length === 0 && t.length > 0) continue;
          n = t;
          continue outer;
        }
      }
    }
    // Before answering "no", check that the rest of the pattern is well formed, as Go does.
    while (p.length > 0) {
      const next = scanChunk(p);
      p = next.rest;
      matchChunk(next.chunk, []);
    }
    return false;
  }
  return n.length === 0;
}

function scanChunk(pattern: Runes): { star: boolean; chunk: Runes; rest: Runes } {
  let i = 0;
  let star = false;
  while (i < pattern.length && pattern[i] === "*") {
    i++;
    star = true;
  }
  const p = pattern.slice(i);
  let inRange = false;
  let j = 0;
  scan: for (; j < p.length; j++) {
    switch (p[j]) {
      case "\\":
        if (j + 1 < p.length) j++;
        break;
      case "[":
        inRange = true;
        break;
      case "]":
        inRange = false;
        break;
      case "*":
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(0, j), rest: p.slice(j) };
}

/** The rest of `s` after `chunk` matched its start, or undefined. Throws BadPattern. */
function matchChunk(chunkIn: Runes, sIn: Runes): Runes | undefined {
  let chunk = chunkIn;
  let s = sIn;
  let failed = false;
  while (chunk.length > 0) {
    if (!failed && s.length === 0) failed = true;
    const c = chunk[0];
    if (c === "[") {
      let r = "";
      if (!failed) {
        r = s[0] as string;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
      let negated = false;
      if (chunk[0] === "^") {
        negated = true;
        chunk = chunk.slice(1);
      }
      let matched = false;
      let nrange = 0;
      for (;;) {
        if (chunk.length > 0 && chunk[0] === "]" && nrange > 0) {
          chunk = chunk.slice(1);
          break;
        }
        const lo = getEsc(chunk);
        chunk = lo.rest;
        let hi = lo.r;
        if (chunk[0] === "-") {
          const h = getEsc(chunk.slice(1));
          hi = h.r;
          chunk = h.rest;
        }
        const rc = r.codePointAt(0) ?? -1;
        if ((lo.r.codePointAt(0) as number) <= rc && rc <= (hi.codePointAt(0) as number))
          matched = true;
        nrange++;
      }
      if (matched === negated) failed = true;
    } else if (c === "?") {
      if (!failed) {
        if (s[0] === "/") failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    } else {
      if (c === "\\") {
        chunk = chunk.slice(1);
        if (chunk.length === 0) throw new BadPattern();
      }
      if (!failed) {
        if (chunk[0] !== s[0]) failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    }
  }
  return failed ? undefined : s;
}

function getEsc(chunkIn: Runes): { r: string; rest: Runes } {
  let chunk = chunkIn;
  if (chunk.length === 0 || chunk[0] === "-" || chunk[0] === "]") throw new BadPattern();
  if (chunk[0] === "\\") {
    chunk = chunk.slice(1);
    if (chunk.length === 0) throw new BadPattern();
  }
  const r = chunk[0] as string;
  const rest = chunk.slice(1);
  if (rest.length === 0) throw new BadPattern();
  return { r, rest };
}
