import type { FastifyInstance } from "fastify";
import { type AuditPluginDeps, auditPlugin } from "../audit/audit-plugin.ts";
import { type CasesPluginDeps, casesPlugin } from "../cases/cases-plugin.ts";
import { type LabelsPluginDeps, labelsPlugin } from "../cases/labels-plugin.ts";
import { consolePlugin } from "../console/console-plugin.ts";
import { type ChangesPluginDeps, changesPlugin } from "../governance/changes-plugin.ts";
import { buildHttp, type HttpDeps } from "../http/build.ts";
import { type ProfilesPluginDeps, profilesPlugin } from "../ingest/profiles-plugin.ts";
import { type TransactionsPluginDeps, transactionsPlugin } from "../ingest/transactions-plugin.ts";
import { type RulesPluginDeps, rulesPlugin } from "../rules/rules-plugin.ts";
import { type WebhooksPluginDeps, webhooksPlugin } from "../webhooks/webhooks-plugin.ts";

/*
 * The application's HTTP assembly: which feature is served, with which dependencies — one Fastify
 * plugin per feature, each in its feature's folder (transactions and profiles in src/ingest, rules
 * in src/rules, cases and labels in src/cases, the console in src/console, webhooks in
 * src/webhooks, the audit trail in src/audit). The HTTP layer (src/http) serves them and knows
 * none of them (issue 33).
 */

export type AppDeps = HttpDeps & {
  transactions: Omit<TransactionsPluginDeps, "metrics">;
  profiles: ProfilesPluginDeps;
  /** Rule sets and lists (admin); absent, they are not served. */
  rules?: RulesPluginDeps;
  /** The analyst's routes (cases, labels, rule performance, the console); absent, not served. */
  analyst?: { cases: CasesPluginDeps; labels: LabelsPluginDeps };
  /** Proposed changes, four eyes (issue 37); absent, not served. */
  changes?: ChangesPluginDeps;
  /** The audit trail (admin); absent, not served. */
  audit?: AuditPluginDeps;
  /** Webhook endpoints and deliveries (admin); absent, not served. */
  webhooks?: WebhooksPluginDeps;
};

/** The whole HTTP API, not listening: tests drive it with inject(); the ingress listens. */
export function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { analyst } = deps;
  return buildHttp(deps, {
    ...(analyst ? { open: async (app: FastifyInstance) => void (await app.register(consolePlugin)) } : {}),
    async keyed(scope) {
      await scope.register(transactionsPlugin, { ...deps.transactions, metrics: deps.metrics });
      await scope.register(profilesPlugin, deps.profiles);
      if (deps.rules) await scope.register(rulesPlugin, deps.rules);
      if (analyst) {
        await scope.register(casesPlugin, analyst.cases);
        await scope.register(labelsPlugin, analyst.labels);
      }
      if (deps.changes) await scope.register(changesPlugin, deps.changes);
      if (deps.audit) await scope.register(auditPlugin, deps.audit);
      if (deps.webhooks) await scope.register(webhooksPlugin, deps.webhooks);
    },
  });
}
