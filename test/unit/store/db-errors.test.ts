import { CheckIntegrityConstraintViolationError, InvalidInputError } from "slonik";
import { describe, expect, it } from "vitest";
import { translateDbError } from "../../../src/store/db-errors.ts";

/* Which PostgreSQL faults are about the message (not retryable) and which are outages (retried). */

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe("translateDbError", () => {
  it.each([
    ["22003", "numeric out of range"],
    ["22P02", "invalid text representation"],
    ["23505", "unique violation"],
    ["23514", "check violation"],
  ])("treats SQLSTATE %s (%s) as refused data: not retryable", (code) => {
    const e = translateDbError(pgError(code), "store batch");
    expect(e.code).toBe("internal");
    expect(e.retryable).toBe(false);
  });

  it.each([
    ["42501", "insufficient privilege (a REVOKE)"],
    ["42P01", "undefined table (a migration not applied)"],
    ["25006", "read-only transaction (a standby)"],
    ["08006", "connection failure"],
    ["53300", "too many connections"],
    ["57P01", "admin shutdown"],
    ["40001", "serialization failure"],
    ["42601", "syntax error (our bug, not the message's)"],
  ])("treats SQLSTATE %s (%s) as an outage: retried", (code) => {
    const e = translateDbError(pgError(code), "store batch");
    expect(e.code).toBe("store_unavailable");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain(code);
  });

  it("reads slonik's own error classes", () => {
    expect(translateDbError(new InvalidInputError("bad"), "x").retryable).toBe(false);
    const check = new CheckIntegrityConstraintViolationError(
      Object.assign(new Error("check"), { code: "23514", constraint: "c" }) as never,
    );
    expect(translateDbError(check, "x").retryable).toBe(false);
    expect(translateDbError(new Error("connect ECONNREFUSED"), "x").code).toBe("store_unavailable");
  });
});
