import { defineConfig } from "vitest/config";

/*
 * Three projects: `unit` (pure, no services), `integration` (real Kafka, PostgreSQL, Redis,
 * resolved once by test/global-setup.ts) and `chaos` (the shortened chaos run, issue 15), which
 * runs alone after the other two (groupOrder): it loads both cores and kills a broker of its own.
 * `npm test` runs all three; `npm run test:unit` only the first.
 */
// Every project: kafkajs must load with its patches in place (src/kafka/kafkajs-patches.ts).
const PATCHED_KAFKAJS = ["src/kafka/kafkajs-patches.ts"];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          setupFiles: PATCHED_KAFKAJS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          setupFiles: PATCHED_KAFKAJS,
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The files share one 2-core machine with the broker; two at a time keeps them honest.
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          environment: "node",
          setupFiles: PATCHED_KAFKAJS,
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 600_000,
          hookTimeout: 180_000,
          // One file at a time: each loads both cores (the chaos run; a three-broker cluster).
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
