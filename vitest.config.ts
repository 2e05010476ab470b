import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{units,agent,cli,cloud-config,test}/**/*.test.ts"],
    // Cluster tests boot real systemd hosts and etcd; they must not share the 2 cores
    // with a pool of parallel workers fighting over the same ports and cgroups.
    fileParallelism: true,
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
