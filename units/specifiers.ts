/**
 * @module units/specifiers
 * `%n %N %p %i` in `[X-Fleet]` values, replaced as fleet's unitPrintf did: one after the other,
 * with plain string replacement (so `%%i` gives `%` plus the instance, as in fleet).
 */
import type { UnitNameInfo } from "./unit-name.js";

export function expandSpecifiers(value: string, info: UnitNameInfo): string {
  return value
    .replaceAll("%n", info.fullName)
    .replaceAll("%N", info.name)
    .replaceAll("%p", info.prefix)
    .replaceAll("%i", info.instance);
}
