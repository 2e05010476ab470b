# The two commands README.md promises: `make demo` and `make test`. Both set up a fresh
# machine themselves (scripts/setup.sh).
.PHONY: setup build typecheck lint unit test bench demo demo-down clean

setup:
	@bash scripts/setup.sh

# tsc, then fleetctl bundled into one file (scripts/bundle-fleetctl.mjs says why).
BUILD = npx tsc -p tsconfig.build.json && node scripts/bundle-fleetctl.mjs

build: setup
	$(BUILD)

typecheck: setup
	npx tsc -p tsconfig.json --noEmit

lint: setup
	npx biome check .

unit: setup
	npx vitest run

# Typecheck, lint, then every test (unit, etcd and real-systemd ones; the latter need root).
test: setup
	npx tsc -p tsconfig.json --noEmit
	$(BUILD)
	npx biome check .
	npx vitest run

# The quick benchmarks; the cluster ones (bench/engine-scale.ts, bench/agent-real.ts) take
# minutes and root: see docs/benchmarks.md for their commands.
bench: build
	npx tsx bench/units-parse.ts
	npx tsx bench/scheduler.ts

clean:
	rm -rf dist

# A local 3-host cluster (real systemd, real etcd), each host booted from its own
# cloud-config, running docs/examples/units; it stays up until `make demo-down`.
demo: build
	npx tsx scripts/demo.ts up

demo-down: setup
	npx tsx scripts/demo.ts down
