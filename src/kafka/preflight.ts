import type { Kafka } from "kafkajs";
import type { KafkaSecurity } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { withAdmin } from "./admin.ts";
import { someCause } from "./kafka-errors.ts";

/*
 * Before a process starts its parts (issue 34): can it reach the brokers, do they accept its TLS
 * and its credentials, and may its principal see each topic it uses? kafkajs would otherwise retry
 * a refused handshake or a wrong password for tens of seconds and then fail somewhere in a part.
 * Each refusal becomes one sentence that says what to change. (A principal that may see a topic
 * but not write it is refused on its first write: TOPIC_AUTHORIZATION_FAILED, in the log.)
 */

type Cause = { name?: unknown; type?: unknown; message?: unknown; code?: unknown };

const text = (e: Cause) => String(e.message ?? "");
const has = (error: unknown, test: (e: Cause) => boolean) => someCause(error, test as never);

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|certificate|altnames/i;

/** The sentence for a refusal, by what refused (exported for its unit test). */
export function explainRefusal(
  error: unknown,
  { brokers, security }: { brokers: readonly string[]; security: KafkaSecurity | undefined },
): string {
  const where = `Kafka at ${brokers.join(",")}`;
  const user = security?.sasl
    ? `"${security.sasl.username}" (SASL ${security.sasl.mechanism})`
    : "this client";
  if (
    has(
      error,
      (e) =>
        e.name === "KafkaJSSASLAuthenticationError" ||
        /SASL_AUTHENTICATION_FAILED|Authentication failed/i.test(text(e)),
    )
  )
    return `${where} refused the credentials of ${user}: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or its _FILE)`;
  if (
    has(error, (e) => e.type === "UNSUPPORTED_SASL_MECHANISM" || /UNSUPPORTED_SASL_MECHANISM/.test(text(e)))
  )
    return `${where} does not offer SASL ${security?.sasl?.mechanism}: set KAFKA_SASL_MECHANISM to one its listener enables`;
  if (has(error, (e) => e.type === "TOPIC_AUTHORIZATION_FAILED"))
    return `${where}: ${user} may not use the topics this process needs; apply its ACLs (\`sentinel kafka-acls\`, docs/operations.md)`;
  if (has(error, (e) => e.type === "CLUSTER_AUTHORIZATION_FAILED" || e.type === "GROUP_AUTHORIZATION_FAILED"))
    return `${where}: ${user} lacks a cluster or group ACL; apply its ACLs (\`sentinel kafka-acls\`)`;
  if (has(error, (e) => TLS_CODES.test(String(e.code ?? "")) || TLS_CODES.test(text(e))))
    return `${where}: TLS failed (${firstMessage(error)}); set KAFKA_SSL_CA_FILE to the CA of the brokers' certificates, or KAFKA_SSL_SERVERNAME to the name they carry`;
  if (!security?.ssl)
    return `${where} closed the connection or did not answer (${firstMessage(error)}): if its listener is TLS set KAFKA_SSL=true, if it requires SASL set KAFKA_SASL_*`;
  if (!security.sasl)
    return `${where} closed the connection or did not answer (${firstMessage(error)}): if its listener requires SASL set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`;
  return `${where} did not answer (${firstMessage(error)}): is it running, and is this its SASL_SSL listener?`;
}

function firstMessage(error: unknown): string {
  let deepest = "";
  someCause(error, (e) => {
    if (typeof e.message === "string" && e.message) deepest = e.message;
    return false;
  });
  return deepest.slice(0, 200) || String(error);
}

/**
 * Nothing listens there (yet): a broker restarting, a process started before its Kafka. Not a
 * refusal: the process starts and its clients keep trying, as they always did.
 */
export function isUnreachable(error: unknown): boolean {
  return has(error, (e) =>
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN/.test(`${String(e.code ?? "")} ${text(e)}`),
  );
}

/**
 * Connects once (one retry), authenticates, and fetches the metadata of `topics`.
 * @returns undefined when it may, else (nothing listens yet) why not: the caller logs it and goes on.
 * @throws SentinelError(broker_refused) with the sentence of explainRefusal when Kafka answered
 *   and refused (TLS, credentials, ACLs), or a listener there does not speak what we speak.
 */
export async function checkKafkaAccess(
  kafka: Kafka,
  topics: readonly string[],
  context: { brokers: readonly string[]; security: KafkaSecurity | undefined },
): Promise<string | undefined> {
  try {
    await withAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics: [...topics] }), {
      retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1_000 },
    });
    return undefined;
  } catch (error) {
    if (isUnreachable(error) || has(error, (e) => e.type === "UNKNOWN_TOPIC_OR_PARTITION"))
      return firstMessage(error);
    throw new SentinelError("broker_refused", explainRefusal(error, context), { cause: error });
  }
}
