import type { Config } from "../config.ts";
import { createModelStore } from "../model/model-store.ts";
import { createRulesStore } from "../rules/rules-store.ts";
import type { DatabasePool } from "../store/pool.ts";
import { createEndpointStore } from "../webhooks/endpoint-store.ts";
import { createSecretBox } from "../webhooks/secret-box.ts";
import { type ChangeStore, createChangeStore } from "./change-store.ts";

/** The change store of a process (ingress or command line), with the stores changes are applied with. */
export function changeStoreFor(
  config: Pick<Config, "approvals" | "webhooks">,
  pool: DatabasePool,
): ChangeStore {
  const box = createSecretBox(config.webhooks.secretKey);
  return createChangeStore({
    pool,
    storesOn: (db) => ({
      rules: createRulesStore({ pool: db }),
      models: createModelStore({ pool: db }),
      endpoints: createEndpointStore({ pool: db, box }),
    }),
    approvalsRequired: config.approvals.required,
    expireMs: config.approvals.expireMs,
  });
}
