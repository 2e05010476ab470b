/**
 * @module cloud-config/substitute
 * coreos-cloudinit's `$public_ipv4`-style substitution over the raw user data (initialize/env.go):
 * `$name` becomes the value, `\$name` becomes a literal `$name`. Only names with a value are
 * touched, so a document used without metadata keeps its `$private_ipv4` text.
 */
import { z } from "zod";

export const substitutionsSchema = z.object({
  public_ipv4: z.string().optional(),
  private_ipv4: z.string().optional(),
  public_ipv6: z.string().optional(),
  private_ipv6: z.string().optional(),
});
export type Substitutions = z.infer<typeof substitutionsSchema>;

export const SUBSTITUTION_NAMES = [
  "public_ipv4",
  "private_ipv4",
  "public_ipv6",
  "private_ipv6",
] as const;

export function substitute(text: string, subs: Substitutions): string {
  let out = text;
  for (const name of SUBSTITUTION_NAMES) {
    const value = subs[name];
    if (value === undefined) continue;
    const key = `\\$${name}`;
    // "$key" → value, unless escaped; then "\$key" → "$key" (Go applied these two regexps).
    out = out.replace(new RegExp(`(^|[^\\\\])${key}`, "g"), (_m, pre: string) => `${pre}${value}`);
    out = out.replace(new RegExp(`\\\\${key}`, "g"), `$${name}`);
  }
  return out;
}
