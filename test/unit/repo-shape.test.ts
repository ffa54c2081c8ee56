import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../src/paths.ts";

/*
 * The repository's shape (issue 33, CONVENTIONS.md): no file in src over 300 lines; kafkajs is
 * changed only by the diffs in patches/, never at run time; a comment that names a file names one
 * that exists.
 */

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const src = walk(join(REPO_ROOT, "src")).filter((f) => f.endsWith(".ts"));
const everyFile = ["src", "test", "bench", "chaos", "bin", "infra", "ops"].flatMap((d) =>
  walk(join(REPO_ROOT, d)),
);
const names = new Set(everyFile.map((f) => basename(f)));
const paths = new Set(everyFile.map((f) => relative(REPO_ROOT, f)));

describe("the repository's shape", () => {
  it("no file in src is over 300 lines", () => {
    const long = src
      .map((f) => ({ file: relative(REPO_ROOT, f), lines: readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter(({ lines }) => lines > 300);
    expect(long).toEqual([]);
  });

  it("nothing in src swaps modules at run time (require.cache) or reaches into kafkajs's sources", () => {
    const found = src.filter((f) => /require\.cache|kafkajs\/src\//.test(readFileSync(f, "utf8")));
    expect(found.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });

  it("a comment in src that names a .ts file names one that exists", () => {
    const missing: string[] = [];
    for (const f of src) {
      readFileSync(f, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (!/^\s*(\/\/|\*|\/\*)/.test(line)) return;
          for (const [name] of line.matchAll(/[\w./-]+\.ts\b/g)) {
            const exists = name.includes("/")
              ? paths.has(normalize(name)) ||
                paths.has(relative(REPO_ROOT, join(dirname(f), name))) ||
                names.has(basename(name))
              : names.has(name);
            if (!exists) missing.push(`${relative(REPO_ROOT, f)}:${i + 1} ${name}`);
          }
        });
    }
    expect(missing).toEqual([]);
  });
});
