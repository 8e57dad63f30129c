// Bar charts as inline SVG, drawn from numbers alone (no library, nothing that needs a build).

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

// One bar per point, bottom-up, labels under every few bars so they never overlap; hover shows the exact value.
export function columnChart(points, { format = String, label = "chart", height = 180, barWidth = 36 } = {}) {
  const max = Math.max(1, ...points.map((p) => p.value));
  const pad = { top: 16, bottom: 28, left: 8 };
  const width = Math.max(240, pad.left * 2 + points.length * barWidth);
  const plot = height - pad.top - pad.bottom;
  const every = Math.ceil(points.length / Math.floor(width / 70));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label,
    class: "chart" });
  root.append(svg("line", { x1: 0, x2: width, y1: height - pad.bottom, y2: height - pad.bottom, class: "axis" }));
  points.forEach((p, i) => {
    const bar = Math.round((p.value / max) * plot);
    const x = pad.left + i * barWidth;
    root.append(svg("rect", { x: x + 2, y: height - pad.bottom - bar, width: barWidth - 4, height: bar, class: "bar",
      "data-label": p.label, "data-value": p.value }, svg("title", {}, `${p.label}: ${format(p.value)}`)));
    if (p.value && points.length <= 16) {
      root.append(svg("text", { x: x + barWidth / 2, y: height - pad.bottom - bar - 3, class: "value" }, format(p.value)));
    }
    if (i % every === 0) {
      root.append(svg("text", { x: x + barWidth / 2, y: height - 10, class: "tick" }, p.label.slice(5)));
    }
  });
  return root;
}

// Horizontal bars, one per category, longest first.
export function barList(points, { format = String, label = "chart", width = 420, rowHeight = 24 } = {}) {
  const sorted = [...points].sort((a, b) => b.value - a.value);
  const max = Math.max(1, ...sorted.map((p) => p.value));
  const labelWidth = 110;
  const height = Math.max(rowHeight, sorted.length * rowHeight);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label,
    class: "chart" });
  sorted.forEach((p, i) => {
    const y = i * rowHeight;
    const w = Math.max(1, Math.round((p.value / max) * (width - labelWidth - 50)));
    root.append(
      svg("text", { x: labelWidth - 6, y: y + rowHeight / 2 + 4, class: "label" }, p.label),
      svg("rect", { x: labelWidth, y: y + 4, width: w, height: rowHeight - 8, class: `bar bar-${p.label}`,
        "data-label": p.label, "data-value": p.value }, svg("title", {}, `${p.label}: ${format(p.value)}`)),
      svg("text", { x: labelWidth + w + 6, y: y + rowHeight / 2 + 4, class: "value-end" }, format(p.value)));
  });
  return root;
}
