import { describe, expect, it } from "vitest";
import { renderRedrive } from "../../../src/ops/dlq-command.ts";
import { renderOffsets, renderResets } from "../../../src/ops/offsets-command.ts";
import { toJson } from "../../../src/ops/output.ts";
import { renderBeyondCommitted, renderReplay } from "../../../src/ops/replay-command.ts";

/* The SRE commands' text output, from their pure render functions. */

const topics = {
  transactions: "transactions",
  decisions: "transactions.decisions",
  dlq: "transactions.dlq",
  labels: "transactions.labels",
  events: "sentinel.events",
};

describe("render", () => {
  it("renders a replay summary with its range, counts and moves", () => {
    const lines = renderReplay(
      {
        rulesVersion: "v1-abc",
        dryRun: false,
        read: 30,
        alreadyStored: 25,
        newlyStored: 3,
        notStored: 0,
        deadLettered: 1,
        alreadyDeadLettered: 1,
        duplicates: 0,
        redecided: {
          scored: 25,
          unchanged: 24,
          moves: [{ from: "approve", to: "review", count: 1, examples: ["t1"] }],
        },
      },
      {
        topics,
        ranges: [
          { partition: 0, start: 0n, end: 20n },
          { partition: 1, start: 5n, end: 5n },
          { partition: 2, start: 3n, end: 13n },
        ],
        seconds: 1.25,
      },
    );
    expect(lines.slice(0, 6)).toEqual([
      "replay of transactions",
      "  range          0:0-19 2:3-12",
      "  read           30 messages in 1.3 s",
      "  already stored 25 (unchanged)",
      "  newly stored   3",
      "  dead-lettered  1, 1 already on transactions.dlq",
    ]);
    expect(lines).toContain("re-decided with rules v1-abc (stored beside the live decisions)");
    expect(lines).toContain("  scored 25, unchanged 24, moved 1");
    expect(lines.at(-1)).toMatch(/approve → review.*1.*t1/);
  });

  it("says nothing when the range is within what the live group committed", () => {
    expect(renderBeyondCommitted("g", [])).toBeUndefined();
    expect(renderBeyondCommitted("g", [{ partition: 3, committed: null }])).toBe(
      "warning: the range reaches past what group g has committed (3:none): the history of transactions there may be incomplete until the live group catches up",
    );
  });

  it("renders a redrive summary, naming the letters that are not the original", () => {
    expect(
      renderRedrive(
        {
          dryRun: true,
          matched: 10,
          alreadyRedriven: 2,
          moved: 7,
          notOriginal: 1,
          otherSource: 0,
          byReason: { not_json: 7 },
        },
        topics,
      ),
    ).toEqual([
      "redrive transactions.dlq → transactions (dry run: nothing moved)",
      "  matching letters  10",
      "  already redriven  2 (skipped)",
      "  not the original  1 (card numbers masked or value cut: not moved)",
      "  would move        7 (not_json 7)",
    ]);
  });

  it("renders offsets and resets with 64-bit offsets exactly", () => {
    const big = 2n ** 60n + 1n;
    const [table, summary] = renderOffsets(
      {
        groupId: "g",
        state: "Stable",
        members: [{ clientId: "c", host: "h" }],
        partitions: [{ partition: 0, committed: big, low: 0n, high: big + 2n, lag: 2n }],
        totalLag: 2n,
      },
      "g",
      "transactions",
    );
    expect(table).toContain("1152921504606846977");
    expect(summary).toBe("group g on transactions: Stable, 1 member(s), total lag 2");
    expect(
      renderResets([{ partition: 0, from: undefined, to: 5n }], {
        groupId: "g",
        topic: "t",
        to: "latest",
        dryRun: true,
      }).at(-1),
    ).toBe("would reset group g on t to latest");
    expect(toJson({ offset: big, list: [1n] })).toBe('{"offset":"1152921504606846977","list":["1"]}');
  });
});
