import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import {
  type Client,
  Compatibility,
  RestError,
  type SchemaInfo,
  SchemaRegistryClient,
} from "@confluentinc/schemaregistry";
import { SentinelError } from "../errors.ts";
import { jsonSchemas } from "../json-schemas.ts";

/*
 * Confluent Schema Registry, through @confluentinc/schemaregistry. Subjects follow the registry's
 * default TopicNameStrategy: `<topic>-value`, so `transactions-value` and
 * `transactions.decisions-value`. A framed value (magic byte 0, 4-byte schema id, JSON) is a
 * transaction when its id is one of the schemas registered under the transactions subject; any
 * other id is dead-lettered as `unknown_schema_id`. `mock://…` gives the library's in-memory
 * registry, one per process: two processes using it agree on ids only because each registers the
 * same schemas in the same order at start-up (ids count from 1).
 */

export const subjectFor = (topic: string) => `${topic}-value`;

function schemaInfo(file: "transaction.v1.json" | "decision.v1.json"): SchemaInfo {
  return { schemaType: "JSON", schema: JSON.stringify(jsonSchemas()[file]) };
}

/** How long an id the registry did not know stays unknown before it is asked again. */
const UNKNOWN_TTL_MS = 2_000;

export type TransactionSchemaIds = {
  /**
   * Registers transaction.v1 under `<transactions topic>-value` (an identical schema keeps its id)
   * and returns the id to write with.
   * @throws SentinelError registry_unavailable when the registry cannot be reached.
   */
  register(): Promise<number>;
  /** Known / unknown for ids resolved by `resolve`; undefined for an id not resolved yet. */
  isKnown(id: number): boolean | undefined;
  /**
   * Asks the registry about the ids not resolved yet.
   * @throws SentinelError registry_unavailable (retryable) when the registry cannot be reached.
   */
  resolve(ids: Iterable<number>): Promise<void>;
};

/**
 * @param auth basic auth (`user:password`) and the CA of the registry's https, when it needs them
 *   (issue 34: SCHEMA_REGISTRY_USER_INFO, SCHEMA_REGISTRY_CA_FILE).
 */
export function createRegistryClient(
  url: string,
  auth: { userInfo?: string | undefined; caFile?: string | undefined } = {},
): Client {
  return SchemaRegistryClient.newClient({
    baseURLs: [url],
    maxRetries: 2,
    retriesWaitMs: 200,
    ...(auth.userInfo
      ? { basicAuthCredentials: { credentialsSource: "USER_INFO", userInfo: auth.userInfo } }
      : {}),
    ...(auth.caFile
      ? { createAxiosDefaults: { httpsAgent: new Agent({ ca: readFileSync(auth.caFile, "utf8") }) } }
      : {}),
  });
}

function unavailable(what: string, error: unknown): SentinelError {
  return new SentinelError("registry_unavailable", `schema registry: ${what}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * The transaction schema ids of the transactions subject, resolved on demand and cached. Nothing
 * is asked of the registry until `register` or `resolve` is called, so a consumer starts while the
 * registry is down (framed values then wait, retried, until it answers).
 */
export function transactionSchemaIds(client: Client, topic: string): TransactionSchemaIds {
  const subject = subjectFor(topic);
  const known = new Set<number>();
  const unknown = new Map<number, number>(); // id → when it was found unknown
  const isKnown = (id: number): boolean | undefined => {
    if (known.has(id)) return true;
    const since = unknown.get(id);
    return since !== undefined && Date.now() - since < UNKNOWN_TTL_MS ? false : undefined;
  };
  return {
    async register() {
      try {
        const id = await client.register(subject, schemaInfo("transaction.v1.json"), false);
        known.add(id);
        unknown.delete(id);
        return id;
      } catch (error) {
        throw unavailable(`register ${subject}`, error);
      }
    },
    isKnown,
    async resolve(ids) {
      const pending = [...new Set(ids)].filter((id) => isKnown(id) === undefined);
      await Promise.all(
        pending.map(async (id) => {
          try {
            // The id must be registered under this subject, not just exist: registries answer a
            // lookup by id whatever subject is asked (Apicurio, Confluent), so look the schema up
            // under the subject and compare ids.
            const info = await client.getBySubjectAndId(subject, id);
            if ((await client.getId(subject, info, false)) !== id)
              throw new RestError("other subject", 404, 40403);
            known.add(id);
            unknown.delete(id);
          } catch (error) {
            if (error instanceof RestError && error.status === 404) unknown.set(id, Date.now());
            else throw unavailable(`look up schema id ${id}`, error);
          }
        }),
      );
    },
  };
}

export type Registered = { subject: string; id: number; compatibility: string };

/**
 * `sentinel schemas register`: both schemas under their subjects, each subject set to BACKWARD
 * compatibility (a new version must read everything the previous one wrote).
 */
export async function registerSchemas(
  client: Client,
  topics: { transactions: string; decisions: string },
): Promise<Registered[]> {
  const out: Registered[] = [];
  for (const [topic, file] of [
    [topics.transactions, "transaction.v1.json"],
    [topics.decisions, "decision.v1.json"],
  ] as const) {
    const subject = subjectFor(topic);
    try {
      const compatibility = await client.updateCompatibility(subject, Compatibility.BACKWARD);
      const id = await client.register(subject, schemaInfo(file), false);
      out.push({ subject, id, compatibility });
    } catch (error) {
      throw unavailable(`register ${subject}`, error);
    }
  }
  return out;
}
