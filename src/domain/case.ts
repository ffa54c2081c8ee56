/* The analyst loop's vocabulary: a case's lifecycle and the labels a transaction can carry. */

export const CASE_STATUSES = ["open", "claimed", "resolved"] as const;
export const LABELS = ["fraud", "legitimate"] as const;
export const LABEL_SOURCES = ["chargeback", "analyst", "customer"] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];
export type Label = (typeof LABELS)[number];
export type LabelSource = (typeof LABEL_SOURCES)[number];
