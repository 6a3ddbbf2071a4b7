/* Tổng quan: alerts first, what is on air in every zone (elapsed time; Stop for all, Stop per zone),
 * queue, next broadcasts (station time), today, output/zones (with their addresses)/voices.
 * Live: an EventSource on /console/api/su-kien; the page re-renders on each event.
 * Stop: POST /console/api/dung with no body stops everything; {"zones": [name]} one zone only. */
"use strict";

const OV = { data: null, offset: 0, canStop: false, canCancel: false };

function box(id) {
  return document.getElementById(id);
}

function renderAlerts(d) {
  const alerts = d.alerts || [];
  box("alerts").replaceChildren(...alerts.map((a) => el("p", { class: "alert", role: "alert" }, a)));
}

/* What airs where: with zones, each zone's own now_playing (the top-level one is the first zone's only). */
function onAirList(d) {
  const zones = d.zones || [];
  if (!zones.length) return d.now_playing ? [{ zone: null, now: d.now_playing }] : [];
  return zones.filter((z) => z.now_playing).map((z) => ({ zone: z.name, now: z.now_playing }));
}

async function stopZones(zones) {
  const r = await api("POST", "/console/api/dung", zones ? { zones } : undefined);
  toast(r.message, "ok");
  render(await api("GET", "/console/api/trang-thai"));  // at once, not at the stream's next event
}

function onAirBlock(entry, d) {
  const now = entry.now;
  const elapsed = Math.max(0, d.server_time - now.since);
  const total = now.duration_s || now.expected_s || null;
  const block = el("div", { class: "zone-onair", "data-zone": entry.zone || "" },
    entry.zone ? el("p", { class: "zone-name" }, "Vùng ", el("strong", {}, entry.zone)) : "",
    el("p", {}, el("strong", {}, now.title || now.key), " ", priorityBadge(now.priority),
      " ", el("span", { class: "badge" }, VI.source[now.source] || now.source || "")),
    el("p", { class: "small" }, (now.items || []).map(itemText).join(" · ")),
    el("p", { class: "elapsed" }, `Đã phát ${fmtDuration(elapsed)}` + (total ? ` / ${fmtDuration(total)}` : "")));
  if (total) block.append(el("progress", { max: String(total), value: String(Math.min(elapsed, total)) }));
  if (entry.zone && OV.canStop) {
    block.append(el("button", { type: "button", class: "danger small-button stop-zone",
      "aria-label": `Dừng vùng này (${entry.zone})`,
      onclick: () => stopZones([entry.zone]).catch(() => {}) }, "■ Dừng vùng này"));
  }
  return block;
}

function renderOnAir(d) {
  const airing = onAirList(d);
  const zones = d.zones || [];
  box("onair").classList.toggle("idle", !airing.length);
  box("stop-row").hidden = !(airing.length && OV.canStop);
  box("stop-button").textContent = zones.length > 1 ? "■ Dừng tất cả các vùng" : "■ Dừng bản tin đang phát";
  if (!airing.length) {
    box("onair-body").replaceChildren(el("p", { class: "muted" }, "Không có bản tin nào đang phát. Loa đang nghỉ."));
    return;
  }
  const resting = zones.filter((z) => !z.now_playing).map((z) => z.name);
  box("onair-body").replaceChildren(...airing.map((entry) => onAirBlock(entry, d)),
    resting.length ? el("p", { class: "small muted" }, `Đang nghỉ: ${resting.join(", ")}.`) : "");
}

function queueItem(q) {
  const li = el("li", {}, el("strong", {}, q.title || q.key), " ", priorityBadge(q.priority),
    el("div", { class: "small muted" }, (q.items || []).map(itemText).join(" · ")));
  if (OV.canCancel) {
    li.append(el("button", { type: "button", class: "secondary", onclick: async () => {
      const r = await api("DELETE", `/console/api/hang-cho/${q.id}`);
      toast(r.message, "ok");
    } }, "Hủy lượt này"));
  }
  return li;
}

function renderLists(d) {
  const queue = d.queue || [];
  box("queue").replaceChildren(queue.length ? el("ul", { class: "plain" }, queue.map(queueItem))
    : el("p", { class: "muted" }, "Không có bản tin nào đang chờ."));
  const next = d.next || [];
  box("next").replaceChildren(next.length ? el("ul", { class: "plain" }, next.map((n) =>
    el("li", {}, el("strong", {}, fmtTime(n.at)), " — ", n.slot, " ", priorityBadge(n.priority),
      el("div", { class: "small muted" }, (n.items || []).map(itemText).join(" · ")))))
    : el("p", { class: "muted" }, "Không còn lượt phát nào theo lịch."));
  const today = d.today || {};
  const counts = Object.entries(today).filter(([, n]) => n);
  box("today").replaceChildren(counts.length
    ? el("ul", { class: "plain" }, counts.map(([k, n]) => el("li", {}, `${VI.outcome[k] || k}: `, el("strong", {}, String(n)))))
    : el("p", { class: "muted" }, "Hôm nay chưa có lượt phát nào."));
}

/* An output's address as an operator can check it (never a password: userinfo is dropped). */
function outputAddress(out) {
  const raw = out.url || out.directory || out.device || out.name || "";
  return String(raw).replace(/^(\w+:\/\/)[^/@\s]*@/, "$1");
}

function zoneLine(z) {
  const receivers = z.receivers || [];
  const alive = receivers.filter((r) => r.alive).length;
  const out = z.output || {};
  const icecast = z.kind === "icecast";
  const address = outputAddress(out);
  const link = !icecast ? "" : out.connected === false
    ? el("span", { class: "badge bad" }, "mất kết nối")
    : el("span", { class: "badge ok" }, "đã kết nối");
  const queued = Array.isArray(z.queue) ? z.queue.length : (z.queue || 0);
  const onAir = z.now_playing ? `đang phát: ${z.now_playing.title || z.now_playing.key}` : "không phát";
  return el("li", { "data-zone": z.name },
    el("strong", {}, z.name), icecast ? " — Icecast " : " — loa tại đài ",
    address ? el("span", { class: "address" }, address) : "", " ", link,
    el("div", { class: "small" }, onAir, queued ? ` · ${queued} bản tin chờ` : "",
      receivers.length ? ` · ${alive}/${receivers.length} máy thu đang nhận tiếng`
        : icecast ? " · chưa có máy thu nào báo về" : ""),
    icecast && out.connected === false
      ? el("div", { class: "small bad-text" }, `${out.last_error || "Đang thử kết nối lại"} — kiểm tra máy chủ Icecast ở địa chỉ trên và mật khẩu nguồn.`)
      : "",
    out.error ? el("div", { class: "small bad-text" }, out.error) : "",
    el("ul", { class: "plain" }, receivers.filter((r) => !r.alive).map((r) =>
      el("li", {}, el("span", { class: "badge bad" }, `${r.name}: ${r.state_vi}`)))));
}

function renderDevices(d) {
  const out = d.output || {};
  const zones = d.zones || [];
  box("output").replaceChildren(zones.length ? "" : el("p", {}, "Đầu ra: ",
    el("strong", { class: "address" }, outputAddress(out) || out.kind || "không rõ")));
  box("zones").replaceChildren(zones.length
    ? el("div", {}, el("h3", {}, "Cụm loa"), el("ul", { class: "plain zones" }, zones.map(zoneLine))) : "");
  const engines = Object.entries(d.engines || {});
  box("voices").replaceChildren(el("h3", {}, "Giọng đọc"), el("ul", { class: "plain" }, engines.map(([name, h]) =>
    el("li", {}, el("strong", {}, name), ` (${h.online ? "trực tuyến" : "ngoại tuyến"}) `,
      h.reachable === false ? el("span", { class: "badge bad" }, "không dùng được")
        : h.reachable === true ? el("span", { class: "badge ok" }, "dùng được") : el("span", { class: "badge" }, "chưa dùng lần nào"),
      h.last_error ? el("div", { class: "small muted" }, h.last_error) : ""))),
  el("p", { class: "small muted" }, d.adhoc_voice_rule || ""));
}

function render(d) {
  if (d.error) {
    box("conn").textContent = d.error;
    return;
  }
  OV.data = d;
  OV.offset = d.server_time - Date.now() / 1000;
  setStationTz(zoneOfStatus(d));
  renderAlerts(d);
  renderOnAir(d);
  renderLists(d);
  renderDevices(d);
}

function tick() {
  // between events the elapsed time still moves: recompute it against the server's clock
  if (!OV.data || !onAirList(OV.data).length) return;
  OV.data.server_time = Date.now() / 1000 + OV.offset;
  renderOnAir(OV.data);
}

function connect() {
  const source = new EventSource("/console/api/su-kien");
  source.addEventListener("status", (e) => {
    box("conn").textContent = "Đang cập nhật trực tiếp (mỗi giây).";
    render(JSON.parse(e.data));
  });
  source.onerror = () => {
    box("conn").textContent = "Mất kết nối với phần mềm Loa xã — đang thử kết nối lại…";
  };
}

async function main() {
  const who = await me();
  OV.canStop = ["admin", "operator", "approver"].includes(who.role);
  OV.canCancel = ["admin", "operator"].includes(who.role);
  box("stop-button").addEventListener("click", () => stopZones(null).catch(() => {}));
  render(await api("GET", "/console/api/trang-thai"));
  connect();
  setInterval(tick, 1000);
}

main();
