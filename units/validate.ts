/**
 * @module units/validate
 * Everything fleet's API checked before accepting a unit (api.ValidateName and
 * api.ValidateOptions): a valid name, options that survive fleet's own round trip through its
 * canonical text (and its line limit), and requirements that can be satisfied.
 */
import { UnitsError } from "./errors.js";
import { requirementsProblem } from "./requirements.js";
import { canonicalOptions, parseUnitFile, serializeUnitFile } from "./unit-file.js";
import { unitNameProblem } from "./unit-name.js";
import type { UnitOption } from "./unit-option.js";

/** Why these options cannot be a unit, or undefined. */
export function unitOptionsProblem(options: readonly UnitOption[]): string | undefined {
  let reread: readonly UnitOption[];
  try {
    reread = parseUnitFile(serializeUnitFile(options)).options;
  } catch (err) {
    if (err instanceof UnitsError) return `the unit's text is invalid: ${err.message}`;
    throw err;
  }
  // Options that fleet's canonical text cannot carry (a name with "=", a section with "]" or a
  // newline...) would read back as something else: refuse them rather than store a surprise.
  const canonical = canonicalOptions(options);
  for (let i = 0; i < canonical.length; i++) {
    const want = canonical[i] as UnitOption;
    const got = reread[i];
    if (
      got === undefined ||
      got.section !== want.section ||
      got.name !== want.name ||
      got.value !== want.value
    ) {
      return `option ${JSON.stringify(want.name)} in [${want.section}] cannot be stored as written: section names cannot contain "]" or line breaks, option names cannot contain "=" or line breaks or start with "[", "#" or ";", and values are trimmed of surrounding white space`;
    }
  }
  if (reread.length !== canonical.length) {
    return "some options cannot be stored as written: check for empty or comment-like option names";
  }
  return requirementsProblem(options);
}

/** Why `name` with `options` cannot be submitted, or undefined. */
export function unitProblem(name: string, options: readonly UnitOption[]): string | undefined {
  return unitNameProblem(name) ?? unitOptionsProblem(options);
}
