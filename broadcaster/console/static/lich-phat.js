/* Lịch phát: the campaign as a day/week timeline, a slot form, the saved versions. */
"use strict";

const LP = { start: null, days: 7, data: null, slot: null, form: null, base: null, saved: null };
const DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_VI = ["T2", "T3", "T4", "T5", "T6", "T7", "CN"];
const KIND_VI = { script: "Bài đọc", text: "Văn bản", audio: "Tệp âm thanh" };

/* POST that also returns refusals' bodies (the loader's errors with their lines). */
async function postRaw(url, body) {
  const who = await me();
  let response;
  try {
    response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": who.csrf },
      body: JSON.stringify(body),
    });
  } catch (err) {
    return { status: 0, data: { error: "Không kết nối được với phần mềm Loa xã. Kiểm tra máy phát thanh rồi thử lại." } };
  }
  let data = {};
  try { data = await response.json(); } catch (err) { data = {}; }
  return { status: response.status, data };
}

/* Calendar arithmetic on the server's day strings (station days), in UTC: the PC's zone never shifts a day. */
function isoDay(d) {
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

function shiftDay(iso, n) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return isoDay(d);
}

async function loadTimeline() {
  const params = new URLSearchParams({ days: String(LP.days) });
  if (LP.start) params.set("start", LP.start);
  const data = await api("GET", "/console/api/schedule/timeline?" + params);
  LP.data = data;
  LP.start = data.start;
  document.getElementById("start").value = data.start;
  document.getElementById("campaign").textContent = `${data.campaign.name} — ${data.campaign.label}`;
  const reload = data.reload || {};
  document.getElementById("reload").textContent = reload.message ? `Lần nạp lịch gần nhất: ${reload.message}` : "";
  const box = document.getElementById("file-errors");
  box.hidden = !data.errors.length;
  box.replaceChildren(el("strong", {}, "Tệp lịch đang có lỗi — phần mềm vẫn phát theo lịch cũ. Sửa các dòng sau:"),
    el("ul", {}, data.errors.map((e) => el("li", {}, e))));
  document.getElementById("script-names").replaceChildren(...data.scripts.map((s) => el("option", { value: s })));
  drawTimeline(data);
}

function drawTimeline(data) {
  const box = document.getElementById("timeline");
  box.className = LP.days > 1 ? "week" : "";
  box.replaceChildren(...data.days.map((day) => {
    const chips = day.broadcasts.map((b) => el("button", {
      type: "button", class: "slot-chip" + (b.enabled ? "" : " off") + (b.past ? " past" : "") +
        (LP.saved === b.slot ? " saved" : "") + (LP.slot === b.slot && !editorHidden() ? " selected" : ""),
      "data-slot": b.slot, "data-time": b.time, onclick: () => openSlot(b.slot),
      "aria-label": `${b.time} ${b.slot}${b.enabled ? "" : " (đã tắt)"}${b.past ? " (đã qua)" : ""}` +
        (LP.saved === b.slot ? " (vừa lưu)" : ""),
    }, el("span", { class: "when" }, `${b.time} · ${b.slot}`,
      LP.saved === b.slot ? el("span", { class: "flag" }, " ✓ vừa lưu") : ""),
    el("span", { class: "what" }, b.enabled ? "" : "đã tắt · ", b.priority !== "normal" ? priorityBadge(b.priority) : "",
      " ", b.items.map(itemText).join(", "))));
    const empty = day.in_campaign ? "Không có buổi phát." : "Ngoài thời gian chiến dịch.";
    return el("section", { class: "day" + (day.today ? " today" : "") + (day.in_campaign ? "" : " outside"),
      "data-date": day.date },
    el("h2", {}, day.label + (day.today ? " (hôm nay)" : "")),
    chips.length ? chips : el("p", { class: "small muted" }, empty));
  }));
}

function editorHidden() {
  return document.getElementById("slot-editor").hidden;
}

/* The chips of the slot being edited look selected (white on the brand colour). */
function markSelected() {
  for (const chip of document.querySelectorAll("#timeline .slot-chip")) {
    chip.classList.toggle("selected", !editorHidden() && chip.dataset.slot === LP.slot);
  }
}

function closeEditor() {
  document.getElementById("slot-editor").hidden = true;
  markSelected();
}

function itemRow(item, editable) {
  const kind = el("select", { class: "f-kind", "aria-label": "Loại nội dung", disabled: !editable },
    Object.entries(KIND_VI).map(([k, v]) => el("option", { value: k, selected: k === item.kind }, v)));
  const value = el("input", { type: "text", class: "f-value", value: item.value, "aria-label": "Nội dung",
    list: item.kind === "script" ? "script-names" : null, disabled: !editable });
  kind.addEventListener("change", () => value.setAttribute("list", kind.value === "script" ? "script-names" : ""));
  const row = el("div", { class: "item-row" }, kind, value);
  if (editable) row.append(el("button", { type: "button", class: "secondary", onclick: () => row.remove() }, "Bỏ"));
  return row;
}

async function openSlot(name) {
  const data = await api("GET", "/console/api/schedule/slots/" + encodeURIComponent(name));
  const form = data.form;
  const editable = data.can_edit;
  LP.slot = name; LP.form = form; LP.base = data.base; LP.saved = null;
  for (const chip of document.querySelectorAll("#timeline .slot-chip.saved")) {
    chip.classList.remove("saved");
    const flag = chip.querySelector(".flag");
    if (flag) flag.remove();
  }
  document.getElementById("f-title").textContent = `Buổi phát “${form.name}”`;
  document.getElementById("f-line").textContent = `Dòng ${form.line} trong schedule.yaml` +
    (editable ? "" : " — bạn chỉ được xem, không được sửa.");
  const enabled = document.getElementById("f-enabled");
  enabled.checked = form.enabled; enabled.disabled = !editable;
  const times = document.getElementById("f-times");
  times.value = form.times.join(", "); times.disabled = !editable;
  document.getElementById("f-days").replaceChildren(...DAY_KEYS.map((k, i) => el("label", { class: "choice" },
    el("input", { type: "checkbox", name: "day", value: k, checked: form.days.includes(k), disabled: !editable }),
    DAY_VI[i])));
  const dates = document.getElementById("f-dates");
  dates.value = form.dates.join(", "); dates.disabled = !editable;
  document.getElementById("f-items").replaceChildren(...form.items.map((it) => itemRow(it, editable)));
  document.getElementById("f-add-item").hidden = !editable;
  document.getElementById("f-save").hidden = !editable;
  showErrors([]);
  const editor = document.getElementById("slot-editor");
  editor.hidden = false;
  markSelected();
  editor.scrollIntoView({ behavior: "smooth", block: "start" });
  if (editable) times.focus();
}

function splitList(text) {
  return text.split(/[,;\s]+/).map((s) => s.trim()).filter(Boolean);
}

function readForm() {
  return {
    enabled: document.getElementById("f-enabled").checked,
    times: splitList(document.getElementById("f-times").value),
    days: [...document.querySelectorAll("#f-days input:checked")].map((i) => i.value),
    dates: splitList(document.getElementById("f-dates").value),
    items: [...document.querySelectorAll("#f-items .item-row")].map((row) => ({
      kind: row.querySelector(".f-kind").value, value: row.querySelector(".f-value").value })),
  };
}

function showErrors(lines) {
  const box = document.getElementById("f-errors");
  box.replaceChildren(...lines.map((t) => el("li", {}, t)));
  box.hidden = !lines.length;
}

async function saveSlot(event) {
  event.preventDefault();
  const now = readForm();
  const body = { base: LP.base };
  const old = LP.form;
  for (const key of ["enabled", "times", "days", "dates", "items"]) {
    const before = key === "items" ? old.items.map((i) => ({ kind: i.kind, value: i.value })) : old[key];
    if (JSON.stringify(before) !== JSON.stringify(now[key])) body[key] = now[key];  // only what changed
  }
  if (Object.keys(body).length === 1) {
    toast("Không có gì thay đổi.", "ok");
    return;
  }
  const button = document.getElementById("f-save");
  button.disabled = true;
  try {
    const { status, data } = await postRaw("/console/api/schedule/slots/" + encodeURIComponent(LP.slot), body);
    if (status === 200 && data.ok) {
      showErrors([]);
      toast(data.message + " Phần mềm sẽ nạp lịch mới trong giây lát.", "ok");
      LP.saved = LP.slot;
      closeEditor();
      await Promise.all([loadTimeline(), loadVersions()]);
      setTimeout(() => loadTimeline().catch(() => {}), 1500);  // shows the daemon's reload message
      return;
    }
    const lines = (data.errors || []).map((e) => e.text);
    const head = lines.length ? "Lịch mới có lỗi, chưa lưu — sửa rồi bấm Lưu lại:" : data.error || `Lỗi ${status}. Hãy thử lại.`;
    showErrors([head, ...lines]);
    if (status === 409) toast(data.error, "warn");
  } finally {
    button.disabled = false;
  }
}

async function loadVersions() {
  const data = await api("GET", "/console/api/schedule/versions");
  const list = document.getElementById("versions");
  if (!data.versions.length) {
    list.replaceChildren(el("li", { class: "muted" }, "Chưa có phiên bản nào được lưu từ bảng điều khiển."));
    return;
  }
  list.replaceChildren(...data.versions.map((v, index) => el("li", { "data-version": v.id },
    el("div", {}, el("strong", {}, `Bản số ${v.id}`), ` — ${fmtTime(v.at)} — ${v.who} (${v.where})`,
      index === 0 ? el("span", { class: "badge ok" }, " đang dùng") : ""),
    el("div", { class: "small muted" }, v.reason),
    data.can_restore && index > 0 ? el("button", { type: "button", class: "secondary restore",
      onclick: () => restoreVersion(v) }, "Khôi phục") : "")));
}

async function restoreVersion(v) {
  const ok = await confirmDialog("Khôi phục lịch cũ?",
    `Lịch sẽ trở lại như bản số ${v.id} (${fmtTime(v.at)}, ${v.who}). Bản hiện tại vẫn được giữ trong danh sách.`,
    "Khôi phục");
  if (!ok) return;
  const { status, data } = await postRaw(`/console/api/schedule/versions/${v.id}/restore`, {});
  if (status === 200 && data.ok) toast(data.message, "ok");
  else toast([data.error || data.message, ...(data.errors || []).map((e) => e.text)].join(" "), "error");
  await Promise.all([loadTimeline(), loadVersions()]);
}

document.addEventListener("DOMContentLoaded", () => {
  if (window.matchMedia("(max-width: 899px)").matches) LP.days = 1;
  document.getElementById("prev").addEventListener("click", () => { LP.start = shiftDay(LP.start, -LP.days); loadTimeline(); });
  document.getElementById("next").addEventListener("click", () => { LP.start = shiftDay(LP.start, LP.days); loadTimeline(); });
  document.getElementById("start").addEventListener("change", (e) => { LP.start = e.target.value || null; loadTimeline(); });
  document.getElementById("view-day").addEventListener("click", () => { LP.days = 1; loadTimeline(); });
  document.getElementById("view-week").addEventListener("click", () => { LP.days = 7; loadTimeline(); });
  document.getElementById("slot-form").addEventListener("submit", saveSlot);
  document.getElementById("f-close").addEventListener("click", closeEditor);
  document.getElementById("f-add-item").addEventListener("click", () =>
    document.getElementById("f-items").append(itemRow({ kind: "script", value: "" }, true)));
  loadTimeline().catch(() => {});
  loadVersions().catch(() => {});
});
