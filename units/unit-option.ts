/**
 * @module units/unit-option
 * The atom of a unit file: one `Name=Value` line under a `[Section]`.
 * fleet stores and transmits a unit as the ordered list of these (the API's `options`).
 */

/** One option of a unit file, in file order. Repeated names are separate options. */
export interface UnitOption {
  readonly section: string;
  readonly name: string;
  readonly value: string;
}
