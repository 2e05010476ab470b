/**
 * @module agent/config/metadata
 * fleetd's own `metadata` option ("region=us-east,disk=ssd"). This is fleet's
 * `config.Metadata()`: pairs split on ",", then on the first "="; key and value trimmed; a
 * pair without "=" ignored; the last duplicate wins. Note that this is NOT how `[X-Fleet]
 * MachineMetadata=` is parsed (that one does not trim); both are fleet's behaviour.
 */

export function parseMetadata(raw: string): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of stripQuotes(raw.trim()).split(",")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    meta[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return meta;
}

/** Systemd `Environment="FLEET_METADATA=..."` lines and shells leave one pair of quotes. */
function stripQuotes(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) {
    return s.slice(1, -1);
  }
  return s;
}

/** The inverse, for display and for cloud-config drop-ins: keys sorted for stable output. */
export function formatMetadata(meta: Readonly<Record<string, string>>): string {
  return Object.keys(meta)
    .sort()
    .map((k) => `${k}=${meta[k]}`)
    .join(",");
}
