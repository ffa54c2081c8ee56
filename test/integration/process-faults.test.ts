import { AssignerProtocol, type PartitionAssigner } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/context.ts";
import { freePorts } from "../support/ports.ts";
import { spawnSentinel } from "../support/processes.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 11, items 7 and 9, with `sentinel` run as an operator runs it: a consumer that kafkajs
 * crashes for good exits non-zero (instead of staying up consuming nothing), and the ingress
 * refuses to start without API keys unless AUTH_DISABLED=true says so.
 */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

/** An assignor of another application: a group using it refuses members that speak another one. */
const ForeignAssigner: PartitionAssigner = () => ({
  name: "ForeignAssigner",
  version: 1,
  async assign({ members }) {
    return members.map((m) => ({
      memberId: m.memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: {},
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: "ForeignAssigner",
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});

describe("a consumer kafkajs gives up on", () => {
  it("exits non-zero, naming the crash, instead of staying up idle", async () => {
    const group = `${ctx.config.consumer.group}-shared`;
    const foreign = ctx.kafka.consumer({ groupId: group, partitionAssigners: [ForeignAssigner] });
    await foreign.connect();
    await foreign.subscribe({ topic: ctx.config.kafka.topics.transactions });
    let joined = false;
    foreign.on(foreign.events.GROUP_JOIN, () => {
      joined = true;
    });
    await foreign.run({ eachMessage: async () => {} });
    try {
      expect(await eventually(async () => joined, 30_000)).toBe(true);
      // Another application already owns this group id with its own protocol: the broker refuses
      // our member (INCONSISTENT_GROUP_PROTOCOL), which kafkajs does not retry.
      const p = spawnSentinel(["consume"], { ...ctx.env, CONSUMER_GROUP: group, LOG_LEVEL: "info" });
      const code = await p.wait(90_000);
      expect(code, p.output()).toBe(1);
      expect(p.output()).toMatch(/consumer crashed and will not restart/);
    } finally {
      await foreign.disconnect();
    }
  });
});

describe("the ingress without API keys", () => {
  it("refuses to start unless AUTH_DISABLED=true, naming both variables", async () => {
    const p = spawnSentinel(["ingest"], { ...ctx.env, AUTH_DISABLED: "", API_KEYS: "" });
    expect(await p.wait(60_000)).toBe(2);
    expect(p.output()).toMatch(/API_KEYS: required by the ingress; set AUTH_DISABLED=true/);
  });

  it("refuses AUTH_DISABLED=true on an address other than loopback, naming HOST (issue 20)", async () => {
    // Before issue 20 it listened on every interface with every route open.
    const p = spawnSentinel(["ingest"], { ...ctx.env, AUTH_DISABLED: "true", API_KEYS: "", HOST: "0.0.0.0" });
    expect(await p.wait(60_000)).toBe(2);
    expect(p.output()).toMatch(/HOST: AUTH_DISABLED=true listens on loopback only/);
  });

  it("starts with AUTH_DISABLED=true and says in its log that authentication is off; exports its readiness", async () => {
    const port = await freePorts();
    const p = spawnSentinel(["ingest"], {
      ...ctx.env,
      AUTH_DISABLED: "true",
      LOG_LEVEL: "info",
      PORT: String(port),
    });
    try {
      expect(await eventually(async () => p.output().includes("ingest listening"), 60_000), p.output()).toBe(
        true,
      );
      expect(p.output()).toMatch(/authentication is OFF/);
      // What the alert rules read (ops/prometheus/alerts.yml): each readiness check as a gauge.
      const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(
        await eventually(async () => /sentinel_ready\{check="kafka"\} 1/.test(await metrics()), 20_000),
      ).toBe(true);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });
});
