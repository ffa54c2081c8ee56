import { describe, expect, it } from "vitest";
import {
  HEAP_GROWING_PERCENT,
  isServiceCommand,
  relaunchEnv,
  relaunchExecArgv,
  SEMI_SPACE_MIB,
} from "../../../src/cli/relaunch.ts";

describe("which commands start again with the services' V8 settings", () => {
  it.each([
    [["all"], true],
    [["ingest"], true],
    [["consume"], true],
    [["dev"], true],
    [["webhooks"], true],
    [["webhooks", "run"], true],
    [["ingest", "--help"], false],
    [["webhooks", "list"], false],
    [["webhooks", "run", "--help"], false],
    [["replay", "--from", "earliest"], false],
    [["rules", "list"], false],
    [[], false],
  ])("%j → %s", (args, expected) => {
    expect(isServiceCommand(args)).toBe(expected);
  });
});

describe("the environment a service starts again with", () => {
  it("adds the semi-space to the operator's NODE_OPTIONS and turns the compile cache on", () => {
    const env = relaunchEnv(["ingest"], { NODE_OPTIONS: "--enable-source-maps", PORT: "8080" }, []);
    expect(env).toMatchObject({
      NODE_OPTIONS: `--enable-source-maps --max-semi-space-size=${SEMI_SPACE_MIB}`,
      PORT: "8080",
      SENTINEL_RELAUNCHED: "1",
    });
    expect(env?.NODE_COMPILE_CACHE).toMatch(/node-compile-cache$/);
  });

  it("keeps a semi-space the operator chose, in NODE_OPTIONS or on Node's command line", () => {
    expect(relaunchEnv(["all"], { NODE_OPTIONS: "--max-semi-space-size=16" }, [])?.NODE_OPTIONS).toBe(
      "--max-semi-space-size=16",
    );
    expect(relaunchEnv(["all"], { NODE_OPTIONS: "--max_semi_space_size=2" }, [])?.NODE_OPTIONS).toBe(
      "--max_semi_space_size=2",
    );
    expect(relaunchEnv(["all"], {}, ["--max-semi-space-size=32"])?.NODE_OPTIONS).toBeUndefined();
  });

  it("goes on as it is when everything is chosen, for a one-shot command, and once relaunched", () => {
    const chosen = { NODE_OPTIONS: "--max-semi-space-size=8", NODE_COMPILE_CACHE: "/var/cache/node" };
    const growing = ["--heap-growing-percent=50"];
    expect(relaunchEnv(["ingest"], chosen, growing)).toBeUndefined();
    expect(
      relaunchEnv(
        ["ingest"],
        { NODE_OPTIONS: "--max-semi-space-size=8", NODE_DISABLE_COMPILE_CACHE: "1" },
        growing,
      ),
    ).toBeUndefined();
    expect(relaunchEnv(["consume"], chosen, [])).toBeUndefined();
    // The ingress's growing factor cannot ride in NODE_OPTIONS: without it on the command line, it starts again.
    expect(relaunchEnv(["ingest"], chosen, [])?.SENTINEL_RELAUNCHED).toBe("1");
    expect(relaunchEnv(["replay"], {}, [])).toBeUndefined();
    expect(relaunchEnv(["consume"], { SENTINEL_RELAUNCHED: "1" }, [])).toBeUndefined();
  });

  it("keeps the operator's compile cache directory", () => {
    expect(relaunchEnv(["consume"], { NODE_COMPILE_CACHE: "/var/cache/node" }, [])?.NODE_COMPILE_CACHE).toBe(
      "/var/cache/node",
    );
  });
});

describe("Node's command line a service starts again with", () => {
  it("adds V8's old-generation growing factor to the ingress's, after the operator's flags", () => {
    expect(relaunchExecArgv(["ingest"], ["--enable-source-maps"])).toEqual([
      "--enable-source-maps",
      `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    ]);
  });

  it("leaves the scorer's (and every other service's) to V8", () => {
    for (const args of [["consume"], ["all"], ["dev"], ["webhooks", "run"]])
      expect(relaunchExecArgv(args, ["--enable-source-maps"])).toEqual(["--enable-source-maps"]);
  });

  it("keeps a growing factor the operator named (0 is V8's own)", () => {
    expect(relaunchExecArgv(["ingest"], ["--heap-growing-percent=0"])).toEqual(["--heap-growing-percent=0"]);
    expect(relaunchExecArgv(["ingest"], ["--heap_growing_percent=80"])).toEqual([
      "--heap_growing_percent=80",
    ]);
  });
});
