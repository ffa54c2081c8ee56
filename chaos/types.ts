import type { Kafka } from "kafkajs";
import type { Services } from "../src/stack/sandbox.ts";
import type { WebhookFigures } from "./webhooks.ts";

/* What a chaos run is given, what it records and what it returns. */

export type BrokerControl = {
  /** SIGKILL the broker. */
  kill(): void;
  /** Start it again (on the same data); the harness waits until it answers. */
  start(): void;
};

/** A cluster of several brokers the run may kill one at a time (chaos/cluster.ts). */
export type ClusterControl = {
  nodes: number[];
  /** SIGKILL node `node`. */
  kill(node: number): void;
  /** Start it again (on its data) and wait until every node is registered. */
  start(node: number): Promise<void>;
  /** The node leading most partitions of `topic`. */
  leaderOf(kafka: Kafka, topic: string): Promise<number>;
  /** The active KRaft controller (undefined when it could not be asked). */
  activeController(): Promise<number | undefined>;
};

export type ChaosOptions = {
  seed: number;
  /** Transactions sent (HTTP and direct). */
  total: number;
  users: number;
  /** Transactions per second offered. */
  rate: number;
  /** Fuzzed HTTP bodies spread over the load. */
  fuzz: number;
  /** How long PostgreSQL and Redis are cut. */
  cutMs: number;
  /** The delay added in each direction on the PostgreSQL proxy, and for how long. */
  delayMs: number;
  delayForMs: number;
  /** Consumers SIGKILLed (and restarted), 1 to 3, one after the other. */
  consumerKills: number;
  services: Services;
  /** The broker to kill and restart; without it that fault is skipped (and not counted). */
  broker?: BrokerControl;
  /**
   * A cluster of three or more brokers: instead of the broker restart, the partition leaders'
   * broker, the active controller and a broker during a rebalance are killed, one at a time, and
   * the time until scoring resumes is measured before the node is started again.
   */
  cluster?: ClusterControl;
  /**
   * Four eyes on (APPROVALS_REQUIRED=true, issue 37): every process runs with it, and the changes
   * the run makes (its webhook endpoint) are proposals another operator approves with
   * `sentinel changes approve`.
   */
  fourEyes?: boolean;
  /** How long the webhook receiver is down, halfway through the load (default 60 s). */
  receiverDownMs?: number;
  /** How long the simulated gateway keeps retrying one transaction (default 90 s). */
  gatewayPatienceMs?: number;
  /** Timeline sample period. */
  sampleMs?: number;
  log?: (line: string) => void;
};

export type ChaosEvent = { atS: number; name: string; kind: "fault" | "recovery" | "load" };
export type ChaosSample = {
  atS: number;
  phase: string;
  /** Transactions accepted (202/200 or acked by Kafka) so far. */
  accepted: number;
  /** Sum of the group's committed offsets on the transactions topic (null: broker unreachable). */
  committed: number | null;
  lag: number | null;
};

export type ChaosFigures = {
  accepted: number;
  /** Transactions the gateway gave up on, or whose direct send failed (never accepted: not a loss). */
  gave_up: number;
  /** Messages on the transactions topic, and how many of them repeat a transaction_id (retries). */
  topic_messages: number;
  topic_duplicates: number;
  lost: number;
  /**
   * Direct sends the broker acknowledged that are not on the topic: lost between the harness's own
   * kafkajs producer and the cluster (kafkajs#1303), before the pipeline; not counted in `lost`.
   */
  direct_acked_not_on_topic: number;
  duplicated: number;
  wrong_decisions: number;
  unpublished: number;
  poison_sent: number;
  poison_dead_lettered: number;
  stalled_partitions: number;
  http_5xx: number;
  fuzz_bodies: number;
  profile_rewrites: number;
  faults_injected: number;
  max_lag: number;
  recovery_s_after_broker_restart: number | "n/a";
  /**
   * Cluster runs: the longest time from a broker's SIGKILL (not restarted first) until the group
   * commits past where it stood and the ingress accepts again, over the kills of the run.
   */
  recovery_s_after_broker_kill: number | "n/a";
  /**
   * The longest a consumer's SIGKILL stalled its partitions: from the kill until every partition
   * that had lag then has committed past where it stood (the group's session timeout, then a
   * rebalance). Over the kills of the run.
   */
  stall_s_after_consumer_kill: number | "n/a";
  /** The longest stretch (sampleMs resolution) in which the group committed nothing while it had lag. */
  max_commit_gap_s: number;
} & WebhookFigures;

export type ChaosResult = {
  startedAt: string;
  options: Omit<ChaosOptions, "services" | "broker" | "cluster" | "log"> & {
    brokerRestart: boolean;
    brokers: number;
  };
  events: ChaosEvent[];
  timeline: ChaosSample[];
  figures: ChaosFigures;
  /** One line per law that broke (empty: every law held). */
  broken: string[];
  /** Where each lost transaction was found (at most 20). */
  lostDetail: string[];
  /** What each wrong decision was made from (at most 10). */
  wrongDetail: string[];
};
