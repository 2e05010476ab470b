/**
 * @module cloud-config/go-format
 * Go's `%v` of the values a cloud-config holds, because coreos-cloudinit wrote drop-in values
 * with it: `1.0` → `1`, `1e3` → `1000`, `1e6` → `1e+06`, `0.5` → `0.5`.
 */

export function goValueString(v: unknown): string {
  if (typeof v === "number") return goFloat(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v === null || v === undefined) return "<nil>";
  return String(v);
}

/**
 * strconv.FormatFloat(v, 'g', -1, 64), which `%v` uses: the shortest digits that round-trip,
 * in exponent form when the exponent is below -4 or at least 6 (Go's rule for shortest 'g').
 * Integers held in Go ints print in full; the caller passes those as integers below 1e6, and
 * larger ints only come from int fields, which `goIntString` formats.
 */
function goFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mantissa = "0", expText = "0"] = v.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp);
    return `${mantissa}e${exp < 0 ? "-" : "+"}${abs < 10 ? `0${abs}` : abs}`;
  }
  return v.toString();
}

/** `%v` of a Go int: all digits. */
export function goIntString(v: number): string {
  return BigInt(Math.trunc(v)).toString();
}
