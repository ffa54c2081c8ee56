import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.ts";
import { REPO_ROOT } from "../../src/paths.ts";

/*
 * The docs cannot rot silently: every link (and its #anchor) of README.md, docs/*.md and
 * schemas/README.md resolves, every `npm run X` is a script of package.json, every `sentinel X Y`
 * is a command of the CLI, and every repository path named in code spans exists.
 */

const pages = [
  "README.md",
  "schemas/README.md",
  ...readdirSync(join(REPO_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const text = (page: string) => readFileSync(join(REPO_ROOT, page), "utf8");
/** Inline code spans and fenced blocks: where commands and paths are written. */
const code = (page: string) => [...text(page).matchAll(/```[\s\S]*?```|`[^`\n]+`/g)].map((m) => m[0]);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
const anchorsOf = (page: string) =>
  new Set([...text(page).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!.replace(/`/g, ""))));

describe("the docs", () => {
  it("README.md is a front door of at most 200 lines", () => {
    expect(text("README.md").split("\n").length).toBeLessThanOrEqual(200);
  });

  it.each(pages)("%s: every link and anchor resolves", (page) => {
    const broken: string[] = [];
    for (const [, target] of text(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?|mailto):/.test(target!)) continue;
      const [path, anchor] = target!.split("#") as [string, string | undefined];
      const file = path === "" ? page : relative(REPO_ROOT, join(REPO_ROOT, dirname(page), path));
      if (!existsSync(join(REPO_ROOT, file))) broken.push(`${target} (no ${file})`);
      else if (anchor && file.endsWith(".md") && !anchorsOf(file).has(anchor))
        broken.push(`${target} (no heading)`);
    }
    expect(broken).toEqual([]);
  });

  it.each(pages)("%s: every npm script and sentinel command it names exists", (page) => {
    const scripts = JSON.parse(text("package.json")).scripts as Record<string, string>;
    const program = buildProgram();
    const sub = (cmd: Command, name: string) => cmd.commands.find((c) => c.name() === name);
    const missing: string[] = [];
    for (const span of code(page)) {
      for (const [, script] of span.matchAll(/npm run ([a-z][\w:-]*)/g))
        if (!(script! in scripts)) missing.push(`npm run ${script}`);
      for (const [, name, next] of span.matchAll(/\bsentinel(?: --)? ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)) {
        const cmd = sub(program, name!);
        if (!cmd) missing.push(`sentinel ${name}`);
        else if (next && cmd.commands.length > 0 && !sub(cmd, next)) missing.push(`sentinel ${name} ${next}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it.each(pages)("%s: every repository path it names exists", (page) => {
    const missing: string[] = [];
    for (const span of code(page)) {
      for (const [path] of span.matchAll(
        /\b(?:src|test|bench|chaos|docs|schemas|rulesets|infra|bin|ops)\/[\w./-]*\.(?:ts|js|json|sql|md|py|sh|xml|html|css|svg|png|yml)\b/g,
      )) {
        // bench/results is written by the benchmarks, not kept in git.
        if (!path.includes("*") && !path.startsWith("bench/results/") && !existsSync(join(REPO_ROOT, path)))
          missing.push(path);
      }
    }
    expect(missing).toEqual([]);
  });
});
