import { describe, expect, it } from "vitest";
import { parsePartitions, parsePosition } from "../../../src/kafka/range-reader.ts";

describe("parsePosition (replay --from/--to, dlq --since, offsets --reset-to)", () => {
  it("reads the ends of the topic", () => {
    expect(parsePosition("earliest")).toEqual({ kind: "earliest" });
    expect(parsePosition(" latest ")).toEqual({ kind: "latest" });
  });

  it("reads RFC 3339 times with a zone, to the millisecond", () => {
    expect(parsePosition("2026-11-28T10:00:00Z")).toEqual({ kind: "time", ms: Date.UTC(2026, 10, 28, 10) });
    expect(parsePosition("2026-11-28T11:00:00.250+01:00")).toEqual({
      kind: "time",
      ms: Date.UTC(2026, 10, 28, 10, 0, 0, 250),
    });
  });

  it("reads partition:offset pairs exactly (offsets beyond 2^53 too)", () => {
    const p = parsePosition("3:1200,0:9007199254740993");
    expect(p.kind).toBe("offsets");
    if (p.kind !== "offsets") return;
    expect([...p.offsets]).toEqual([
      [3, 1200n],
      [0, 9007199254740993n],
    ]);
  });

  it.each([
    ["yesterday"],
    ["2026-11-28T10:00:00"], // no zone: local time is a guess
    ["2026-13-45T10:00:00Z"],
    ["3:"],
    ["-1:5"],
    [""],
  ])("refuses %j naming the accepted forms", (text) => {
    expect(() => parsePosition(text)).toThrow(/is not earliest, latest, an RFC 3339 time/);
  });

  it("refuses a partition given twice", () => {
    expect(() => parsePosition("1:5,1:7")).toThrow(/partition 1 given twice/);
  });
});

describe("parsePartitions", () => {
  it("sorts and dedupes", () => expect(parsePartitions("5,0,3,0")).toEqual([0, 3, 5]));
  it("refuses anything else", () => expect(() => parsePartitions("0-3")).toThrow(/not a list of partitions/));
});
