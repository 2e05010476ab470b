/**
 * @module units/go-strings
 * Go's notion of white space (`unicode.IsSpace`), which fleet trimmed and split unit-file text
 * with. It differs from JavaScript's: NEL (U+0085) is a space, the BOM (U+FEFF) is not.
 */

const GO_SPACE = new Set([
  "\t",
  "\n",
  "\v",
  "\f",
  "\r",
  " ",
  "\u0085",
  "\u00a0",
  "\u1680",
  "\u2000",
  "\u2001",
  "\u2002",
  "\u2003",
  "\u2004",
  "\u2005",
  "\u2006",
  "\u2007",
  "\u2008",
  "\u2009",
  "\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
]);

export function isGoSpace(ch: string): boolean {
  return GO_SPACE.has(ch);
}

/** Go's strings.TrimSpace. */
export function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s[start] as string)) start++;
  while (end > start && isGoSpace(s[end - 1] as string)) end--;
  return s.slice(start, end);
}

/** Go's strings.Fields: split around runs of white space, no empty fields. */
export function goFields(s: string): string[] {
  const fields: string[] = [];
  let current = "";
  for (const ch of s) {
    if (isGoSpace(ch)) {
      if (current !== "") fields.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (current !== "") fields.push(current);
  return fields;
}
