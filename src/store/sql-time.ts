import { sql } from "slonik";

/** The to_char format of every timestamp we read: RFC 3339 in UTC with milliseconds. */
export const ISO_UTC = sql.fragment`'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** A timestamptz column read as ISO_UTC text. */
export const isoUtc = (column: string) =>
  sql.fragment`to_char(${sql.identifier([column])} AT TIME ZONE 'UTC', ${ISO_UTC})`;
