import { describe, expect, it } from "vitest";
import {
  decisionEvents,
  labelEvents,
  MAX_BODY_BYTES,
  makeEvent,
  outboxEvents,
} from "../../../src/webhooks/events.ts";

const decision = {
  transaction_id: "5b4a1d2e-8c3f-4e1a-9b7d-2f6c8a0e1b3c",
  user_id: "u1",
  decision: "review",
  score: 60,
  reasons: ["amount_high"],
  rules_version: "rs-1",
  decided_at: "2026-12-01T10:00:00.000Z",
};

describe("webhook events", () => {
  it("makes a review decision its decision.review and case.opened events, with stable message ids", () => {
    const events = decisionEvents(decision);
    expect(events.map((e) => e.type)).toEqual(["decision.review", "case.opened"]);
    expect(JSON.parse(events[0]!.body)).toEqual({
      type: "decision.review",
      timestamp: decision.decided_at,
      data: decision,
    });
    expect(JSON.parse(events[1]!.body).data).toMatchObject({
      case_id: decision.transaction_id,
      status: "open",
    });
    expect(decisionEvents(decision).map((e) => e.messageId)).toEqual(events.map((e) => e.messageId));
    expect(events[0]!.messageId).toMatch(/^msg_[A-Za-z0-9_-]{26}$/);
    expect(events[0]!.messageId).not.toBe(events[1]!.messageId);
    expect(decisionEvents({ ...decision, decision: "approve" }).map((e) => e.type)).toEqual([
      "decision.approved",
    ]);
    expect(decisionEvents({ ...decision, decision: "decline" }).map((e) => e.type)).toEqual([
      "decision.declined",
    ]);
  });

  it("reads labels and outbox events, and refuses what is not one", () => {
    const label = {
      label_id: 7,
      transaction_id: "t",
      user_id: "u",
      label: "fraud",
      source: "analyst",
      labelled_at: "2026-12-01T10:00:00.000Z",
    };
    expect(labelEvents(label)[0]!.type).toBe("label.created");
    const data = { version: "rs-0123456789ab", previous: null, activated_by: "ops" };
    const outbox = { event_id: 3, type: "rules.activated", at: "2026-12-01T10:00:00.000Z", data };
    expect(JSON.parse(outboxEvents(outbox)[0]!.body).data).toEqual(data);
    expect(() => decisionEvents({ ...decision, decision: "maybe" })).toThrow();
    expect(() => outboxEvents({ ...outbox, type: "case.deleted" })).toThrow();
  });

  it("refuses an event whose data is not its type's (issue 35): it is dead-lettered, never signed", () => {
    const at = "2026-12-01T10:00:00.000Z";
    const resolved = {
      case_id: "0190a1b2-0000-7000-8000-000000000001",
      transaction_id: "0190a1b2-0000-7000-8000-000000000001",
      user_id: "u1",
      status: "resolved",
      label: "fraud",
      resolved_by: "ann",
      block_user: false,
      label_id: 9,
    };
    expect(outboxEvents({ event_id: 4, type: "case.resolved", at, data: resolved })).toHaveLength(1);
    for (const data of [
      { version: "rs-0123456789ab" }, // fields missing
      { version: "rs-0123456789ab", previous: null, activated_by: "ops", url: "https://evil.example" },
      { version: "<script>", previous: null, activated_by: "ops" },
      resolved, // another type's data
    ]) {
      expect(() => outboxEvents({ event_id: 5, type: "rules.activated", at, data })).toThrow();
    }
    expect(() =>
      outboxEvents({ event_id: 6, type: "case.resolved", at, data: { ...resolved, extra: 1 } }),
    ).toThrow();
  });

  it("keeps a body under 20 kB: an object too long is sent with its ids only", () => {
    const e = makeEvent("decision.declined", "k", decision.decided_at, {
      ...decision,
      reasons: ["x".repeat(30_000)],
    });
    expect(Buffer.byteLength(e.body)).toBeLessThan(MAX_BODY_BYTES);
    expect(JSON.parse(e.body).data).toEqual({
      transaction_id: decision.transaction_id,
      user_id: "u1",
      truncated: true,
    });
  });
});
