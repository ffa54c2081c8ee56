import { defineConfig } from "vitest/config";

/*
 * Five projects: `unit` (pure, no services; with the tests of our kafkajs fork, test/fork),
 * `kafkajs-pristine` (the same fork tests against pristine kafkajs 2.2.4, where each `forkTest`
 * must fail: test/fork/kafkajs-under-test.ts), `integration` (real Kafka, PostgreSQL, Redis,
 * resolved once by test/global-setup.ts) and `chaos` (the shortened chaos run, issue 15), which
 * runs alone after the others (groupOrder): it loads both cores and kills a broker of its own, and
 * `secure` (the pipeline over SASL_SSL Kafka, TLS PostgreSQL and Redis, issue 34), last and alone.
 * `npm test` runs all five; `npm run test:unit` the first two; `npm run test:secure` the last.
 */

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/fork/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "kafkajs-pristine",
          include: ["test/fork/**/*.test.ts"],
          environment: "node",
          env: { KAFKAJS_UNDER_TEST: "pristine" },
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
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
          // The pipeline over the secured stack (issue 34: `npm run test:secure`): a broker of its
          // own, so it runs alone, after the others.
          name: "secure",
          include: ["test/secure/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/secure-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          environment: "node",
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
