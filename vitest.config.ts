import { defineConfig } from "vitest/config";

/*
 * Two projects: `unit` (pure, no services) and `integration` (real Kafka, PostgreSQL, Redis,
 * resolved once by test/global-setup.ts). `npm test` runs both; `npm run test:unit` only the first.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
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
        },
      },
    ],
  },
});
