/* Nhật ký: filters → /console/api/nhat-ky; figures table, an SVG stacked bar chart (per day, per outcome), rows. */
"use strict";

const COLORS = { played: "#1f7a3a", interrupted: "#e09b00", failed: "#b3261e", missed: "#7a4fb3",
  skipped: "#8a949e", unapproved: "#d0487a", started: "#0b5cad", not_heard: "#5a3d00" };
const SVGNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function query() {
  const p = new URLSearchParams();
  for (const id of ["tu", "den", "buoi", "ket_qua", "cum"]) {
    const v = document.getElementById(id).value;
    if (v) p.set(id, v);
  }
  return p;
}

function drawChart(series, outcomes) {
  const names = Object.fromEntries(outcomes.map((o) => [o.value, o.vi]));
  const used = outcomes.map((o) => o.value).filter((o) => series.some((d) => d.counts[o]));
  const max = Math.max(1, ...series.map((d) => Object.values(d.counts).reduce((a, b) => a + b, 0)));
  const barW = 28, gap = 10, left = 30, top = 10, height = 160;
  const width = left + series.length * (barW + gap) + gap;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 40}`, width, role: "img",
    "aria-label": "Biểu đồ số buổi phát mỗi ngày theo kết quả" });
  for (const tick of [0, Math.ceil(max / 2), max]) {
    const y = top + height - (tick / max) * height;
    chart.append(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#d8dde3" }));
    chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6470" }, tick));
  }
  series.forEach((d, i) => {
    const x = left + gap + i * (barW + gap);
    let y = top + height;
    for (const o of used) {
      const n = d.counts[o] || 0;
      if (!n) continue;
      const h = (n / max) * height;
      y -= h;
      const bar = svg("rect", { x, y, width: barW, height: h, fill: COLORS[o] || "#444", "data-outcome": o });
      bar.append(svg("title", {}, `${d.label}: ${n} ${names[o] || o}`));
      chart.append(bar);
    }
    chart.append(svg("text", { x: x + barW / 2, y: top + height + 16, "text-anchor": "middle", "font-size": 10,
      fill: "#1b1f24" }, d.label));
  });
  document.getElementById("chart").replaceChildren(chart);
  document.getElementById("legend").replaceChildren(...used.map((o) =>
    el("span", {}, el("i", { style: `background:${COLORS[o] || "#444"}` }), names[o] || o)));
  if (!used.length) {
    document.getElementById("legend").replaceChildren(el("p", { class: "muted" }, "Chưa có lượt phát nào trong những ngày này."));
  }
}

function fillSelect(id, values, keep) {
  const select = document.getElementById(id);
  const current = keep ? select.value : "";
  select.replaceChildren(el("option", { value: "" }, "Tất cả"),
    ...values.map((v) => el("option", { value: v.value ?? v }, v.vi ?? v)));
  select.value = current;
}

function rowCells(r) {
  const cells = [
    ["Thời gian", r.time],
    ["Buổi / tiêu đề", r.slot ? `${r.slot} — ${r.title}` : r.title],
    ["Nguồn", r.source_vi + (r.by_user ? ` (${r.by_user})` : "")],
    ["Kết quả", el("span", { class: "badge " + (r.status === "played" ? "ok" : "bad") }, r.status_vi)],
    ["Thời lượng", r.duration_s === null ? "" : fmtDuration(r.duration_s)],
    ["Ghi chú", r.problem || ""],
  ];
  return el("tr", {}, cells.map(([label, value]) => el("td", { "data-label": label }, value)));
}

async function load(event) {
  if (event) event.preventDefault();
  const p = query();
  const data = await api("GET", "/console/api/nhat-ky?" + p.toString());
  document.getElementById("tu").value = data.from;
  document.getElementById("den").value = data.to;
  fillSelect("buoi", data.slots, true);
  fillSelect("ket_qua", data.outcomes, true);
  fillSelect("cum", data.zones, true);
  document.getElementById("cum-box").hidden = !data.zones.length;
  document.querySelector("#figures tbody").replaceChildren(...data.figures.map((f) =>
    el("tr", {}, el("td", {}, f.what), el("td", {}, el("strong", {}, f.value)))));
  drawChart(data.series, data.outcomes);
  document.querySelector("#rows tbody").replaceChildren(...(data.rows.length ? data.rows.map(rowCells)
    : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "Không có lượt phát nào khớp bộ lọc."))]));
  document.getElementById("count").textContent = `(${data.rows.length})`;
  const csv = new URLSearchParams({ tu: data.from, den: data.to });
  document.getElementById("csv").href = "/console/api/nhat-ky.csv?" + csv.toString();
}

document.getElementById("filters").addEventListener("submit", (e) => load(e).catch(() => {}));
load().catch(() => {});
