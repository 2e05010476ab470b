/**
 * @module cli/unit-kind
 * Facts fleetctl derives from a unit's options (through units/, never re-parsed here).
 */
import { unitRequirements } from "../units/requirements.js";
import type { WireUnit } from "./wire.js";

/** fleet's suToGlobal: `Global=true` in [X-Fleet]. */
export function isGlobal(u: Pick<WireUnit, "name" | "options">): boolean {
  return unitRequirements(u.name, u.options).global;
}
