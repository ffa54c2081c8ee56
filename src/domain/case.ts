/* The analyst loop's vocabulary: a case's lifecycle and the labels a transaction can carry. */

export const CASE_STATUSES = ["open", "claimed", "resolved"] as const;
/** Queues (issue 37): escalated by a supervisor, else by priority (src/cases/case-store.ts). */
export const CASE_QUEUES = ["escalated", "high", "standard"] as const;
export type CaseQueue = (typeof CASE_QUEUES)[number];
export const LABELS = ["fraud", "legitimate"] as const;
export const LABEL_SOURCES = ["chargeback", "analyst", "customer"] as const;
/**
 * Which label sources a key's role may state (issue 35): an analyst records what analysts and
 * customers say, never a bank's chargeback; chargebacks come from the feed's `ingest` key (or an
 * admin's). The first is the default when a label names no source.
 */
export const LABEL_SOURCES_BY_ROLE = {
  analyst: ["analyst", "customer"],
  supervisor: ["analyst", "customer"],
  ingest: ["chargeback"],
  admin: ["analyst", "customer", "chargeback"],
} as const satisfies Record<string, readonly (typeof LABEL_SOURCES)[number][]>;
export type CaseStatus = (typeof CASE_STATUSES)[number];
export type Label = (typeof LABELS)[number];
export type LabelSource = (typeof LABEL_SOURCES)[number];
