import { canonicalJson } from "../artefacts/content-address.ts";
import type { RuleSet } from "./rule-language.ts";

/** What changed from rule set `a` to `b`: thresholds, rules added, removed and changed (by id). */
export function diffRuleSets(a: RuleSet, b: RuleSet): string[] {
  const lines: string[] = [];
  for (const k of ["review", "decline"] as const) {
    if (a.thresholds[k] !== b.thresholds[k])
      lines.push(`~ thresholds.${k}: ${a.thresholds[k]} → ${b.thresholds[k]}`);
  }
  const before = new Map(a.rules.map((r) => [r.id, r]));
  const after = new Map(b.rules.map((r) => [r.id, r]));
  for (const [id, r] of after) {
    const old = before.get(id);
    if (!old)
      lines.push(
        `+ ${id} (score ${r.score}${r.at_least ? `, at least ${r.at_least}` : ""}): ${canonicalJson(r.when)}`,
      );
    else if (canonicalJson(old) !== canonicalJson(r)) {
      const parts: string[] = [];
      if (old.score !== r.score) parts.push(`score ${old.score} → ${r.score}`);
      if (old.at_least !== r.at_least) parts.push(`at least ${old.at_least ?? "—"} → ${r.at_least ?? "—"}`);
      if (canonicalJson(old.when) !== canonicalJson(r.when))
        parts.push(`when ${canonicalJson(old.when)} → ${canonicalJson(r.when)}`);
      if (old.description !== r.description) parts.push("description");
      lines.push(`~ ${id}: ${parts.join("; ")}`);
    }
  }
  for (const id of before.keys()) if (!after.has(id)) lines.push(`- ${id}`);
  return lines;
}
