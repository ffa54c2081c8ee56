import type { Expr, RuleSet } from "./rule-language.ts";

/* What a rule set refers to beyond the transaction: named lists, the model's score. */

/** The named lists a rule set refers to (`in_list`), each with the id of the first rule naming it. */
export function listsOf(rs: RuleSet): Map<string, string> {
  const names = new Map<string, string>();
  for (const rule of rs.rules) {
    const stack: Expr[] = [rule.when];
    while (stack.length > 0) {
      const e = stack.pop()!;
      if (e === null || typeof e !== "object") continue;
      if ("op" in e && e.op === "in_list" && !names.has(e.list)) names.set(e.list, rule.id);
      if ("args" in e) stack.push(...e.args);
      else if ("arg" in e) stack.push(e.arg);
    }
  }
  return names;
}

/** Whether an expression reads the model's score. */
export function readsModel(e: Expr): boolean {
  if (e === null || typeof e !== "object") return false;
  if ("field" in e) return e.field?.startsWith("model.") ?? false;
  if ("args" in e) return e.args.some(readsModel);
  if ("arg" in e) return readsModel(e.arg);
  return false;
}

/** Whether any rule of the set reads the model's score (a round then computes the model's features). */
export function usesModel(rs: RuleSet): boolean {
  return rs.rules.some((r) => readsModel(r.when));
}
