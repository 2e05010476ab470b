/**
 * @module agent/systemd/object-path
 * systemd's D-Bus object paths for units: `/org/freedesktop/systemd1/unit/<escaped name>`,
 * where every byte that is not [A-Za-z0-9] (and a leading digit) is written `_xx` in hex
 * (`foo@1.service` → `foo_401_2eservice`). Signals carry only the path; we need the name.
 */

export const UNIT_PATH_PREFIX = "/org/freedesktop/systemd1/unit/";

export function unitObjectPath(name: string): string {
  const bytes = Buffer.from(name, "utf8");
  let out = "";
  bytes.forEach((b, i) => {
    const ch = String.fromCharCode(b);
    const alnum = /[A-Za-z0-9]/.test(ch);
    out += alnum && !(i === 0 && /[0-9]/.test(ch)) ? ch : `_${b.toString(16).padStart(2, "0")}`;
  });
  return UNIT_PATH_PREFIX + (out === "" ? "_" : out);
}

/** The unit name of a unit object path, or undefined for other paths. */
export function unitNameFromPath(path: string): string | undefined {
  if (!path.startsWith(UNIT_PATH_PREFIX)) return undefined;
  const escaped = path.slice(UNIT_PATH_PREFIX.length);
  if (escaped === "" || escaped === "_") return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    if (escaped[i] === "_" && /^[0-9a-f]{2}$/.test(escaped.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(escaped.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}
