#!/usr/bin/env node
// Bundles the built fleetctl (dist/cli/main.js, after tsc) into one file, dist/cli/fleetctl.js,
// which is what `fleetctl` runs (package.json's bin, the demo's wrapper). Node resolves and
// loads ~330 ES modules for the unbundled CLI (zod alone is ~200 files): ~0.1 s of every
// command's ~0.3 s on these machines, before it sends its first request. One file loads in a
// third of that. fleetd is not bundled: etcd3's gRPC reads its .proto files from disk next to
// its modules, and a daemon's start-up is paid once.
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli/main.js"],
  outfile: "dist/cli/fleetctl.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // commander and ws are CommonJS and require node's built-ins; an ES module has no `require`.
  banner: {
    js: "import { createRequire as __fleetctlRequire } from 'node:module'; const require = __fleetctlRequire(import.meta.url);",
  },
  // ws's optional native helpers: absent here, and ws falls back to JS without them.
  external: ["bufferutil", "utf-8-validate"],
  logLevel: "warning",
});
