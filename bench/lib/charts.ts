import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** A vega-lite chart rendered to SVG text, headless (the benchmark and chaos reports). */
export async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}
