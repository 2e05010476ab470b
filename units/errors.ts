/**
 * @module units/errors
 * The root of every error the units library throws on bad input. Callers (the API, fleetctl,
 * property tests) rely on "bad input never throws anything else": catch `UnitsError` and show
 * its message, which names the line or field and says how to fix it.
 */
export class UnitsError extends Error {
  override name = "UnitsError";
}
