// The case view's chart: the user's recent amounts over time, coloured by decision. SVG nodes
// built one by one (no markup from data).

export function drawChart(svg, history) {
  const W = 560,
    H = 140,
    P = 24;
  const points = history
    .map((h) => ({ t: Date.parse(h.received_at), a: Number(h.amount), d: h.decision }))
    .filter((p) => Number.isFinite(p.a));
  svg.replaceChildren();
  if (points.length === 0) return;
  const t0 = Math.min(...points.map((p) => p.t)),
    t1 = Math.max(...points.map((p) => p.t));
  const aMax = Math.max(...points.map((p) => p.a), 1);
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * P);
  const y = (a) => H - P - (a / aMax) * (H - 2 * P);
  const ns = "http://www.w3.org/2000/svg";
  const axis = document.createElementNS(ns, "path");
  axis.setAttribute("d", `M${P} ${P / 2} V${H - P} H${W - P / 2}`);
  axis.setAttribute("stroke", "#c4cbd6");
  axis.setAttribute("fill", "none");
  svg.append(axis);
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 2);
  label.setAttribute("y", 12);
  label.setAttribute("font-size", "10");
  label.setAttribute("fill", "#667085");
  label.textContent = `max ${aMax}`;
  svg.append(label);
  const colors = { approve: "#067647", review: "#b54708", decline: "#b42318" };
  for (const p of points) {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x(p.t));
    dot.setAttribute("cy", y(p.a));
    dot.setAttribute("r", 4);
    dot.setAttribute("fill", colors[p.d] ?? "#667085");
    const title = document.createElementNS(ns, "title");
    title.textContent = `${p.a} · ${p.d} · ${new Date(p.t).toLocaleString()}`;
    dot.append(title);
    svg.append(dot);
  }
}
