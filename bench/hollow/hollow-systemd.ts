/**
 * @module bench/hollow/hollow-systemd
 * HOLLOW: an in-memory stand-in for systemd, for scale benchmarks only (as Kubernetes'
 * kubemark runs hollow kubelets). It "loads" and "starts" units instantly. Never a default:
 * every test of the agent runs against a real systemd.
 */

export interface HollowUnitState {
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly hash: string;
}

export class HollowSystemd {
  readonly #units = new Map<string, HollowUnitState>();

  /** Brings the unit to what was asked: loaded (inactive/dead) or launched (active/running). */
  apply(unit: string, hash: string, desired: "loaded" | "launched"): HollowUnitState {
    const state: HollowUnitState =
      desired === "launched"
        ? { loadState: "loaded", activeState: "active", subState: "running", hash }
        : { loadState: "loaded", activeState: "inactive", subState: "dead", hash };
    this.#units.set(unit, state);
    return state;
  }

  remove(unit: string): void {
    this.#units.delete(unit);
  }

  get(unit: string): HollowUnitState | undefined {
    return this.#units.get(unit);
  }

  names(): string[] {
    return [...this.#units.keys()];
  }

  get size(): number {
    return this.#units.size;
  }
}
