/* Tổng quan: alerts first, what is on air (with elapsed time and Stop), queue, next broadcasts, today,
 * output/zones/voices. Live: an EventSource on /console/api/su-kien; the page re-renders on each event. */
"use strict";

const OV = { data: null, offset: 0, canStop: false, canCancel: false };

function box(id) {
  return document.getElementById(id);
}

function renderAlerts(d) {
  const alerts = d.alerts || [];
  box("alerts").replaceChildren(...alerts.map((a) => el("p", { class: "alert", role: "alert" }, a)));
}

function renderOnAir(d) {
  const now = d.now_playing;
  box("onair").classList.toggle("idle", !now);
  box("stop-row").hidden = !(now && OV.canStop);
  if (!now) {
    box("onair-body").replaceChildren(el("p", { class: "muted" }, "Không có bản tin nào đang phát. Loa đang nghỉ."));
    return;
  }
  const elapsed = Math.max(0, d.server_time - now.since);
  const total = now.duration_s || now.expected_s || null;
  const parts = [
    el("p", {}, el("strong", {}, now.title || now.key), " ", priorityBadge(now.priority),
      " ", el("span", { class: "badge" }, VI.source[now.source] || now.source || "")),
    el("p", { class: "small" }, (now.items || []).map(itemText).join(" · ")),
    el("p", { id: "elapsed" }, `Đã phát ${fmtDuration(elapsed)}` + (total ? ` / ${fmtDuration(total)}` : "")),
  ];
  if (total) parts.push(el("progress", { max: String(total), value: String(Math.min(elapsed, total)) }));
  box("onair-body").replaceChildren(...parts);
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

function renderDevices(d) {
  const out = d.output || {};
  box("output").replaceChildren(el("p", {}, "Đầu ra: ", el("strong", {}, out.name || out.kind || "không rõ")));
  const zones = d.zones || [];
  box("zones").replaceChildren(zones.length ? el("div", {}, el("h3", {}, "Cụm loa"),
    el("ul", { class: "plain" }, zones.map((z) => {
      const receivers = z.receivers || [];
      const alive = receivers.filter((r) => r.alive).length;
      const out = z.output || {};
      const lost = z.kind === "icecast" && out.connected === false;
      const onAir = z.now_playing ? ` — đang phát: ${z.now_playing.title}` : " — không phát";
      return el("li", {}, el("strong", {}, z.name),
        z.kind === "icecast" ? " (qua mạng)" : " (loa tại đài)", onAir,
        receivers.length ? ` — ${alive}/${receivers.length} máy thu đang nhận tiếng` : "",
        lost ? el("span", { class: "badge bad" }, " mất kết nối Icecast") : "",
        el("ul", { class: "plain" }, receivers.filter((r) => !r.alive).map((r) =>
          el("li", {}, el("span", { class: "badge bad" }, `${r.name}: ${r.state_vi}`)))));
    }))) : "");
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
  renderAlerts(d);
  renderOnAir(d);
  renderLists(d);
  renderDevices(d);
}

function tick() {
  // between events the elapsed time still moves: recompute it against the server's clock
  if (!OV.data || !OV.data.now_playing) return;
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
  box("stop-button").addEventListener("click", async () => {
    const r = await api("POST", "/console/api/dung");
    toast(r.message, "ok");
  });
  render(await api("GET", "/console/api/trang-thai"));
  connect();
  setInterval(tick, 1000);
}

main();
