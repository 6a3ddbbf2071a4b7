/* Loa xã console: shared helpers for every page (no build step, no library).
 *
 * A page (pages/<slug>.html) has <main id="page"> and loads this file, then /console/static/<slug>.js.
 * Globals given here:
 *   api(method, url, body)  → Promise of the JSON answer; adds X-CSRF-Token; on refusal shows the
 *                              server's Vietnamese message (toast) and throws Error(message)
 *   me()                     → Promise of {name, role, role_vi, csrf, pages:[{slug,title}]}
 *   nav()                    → draws the navigation bar (called automatically on load)
 *   toast(text, kind)        → a message at the top of the page; kind: "ok" | "warn" | "error"
 *   el(tag, attrs, ...kids)  → a DOM element (attrs: class, text, on<event>, any attribute)
 *   fmtTime(iso|seconds, what) → a date/time in the STATION's time zone (never the PC's):
 *                              what = "datetime" (default, "06:27 08/12/2026") | "time" | "date"
 *   stationTz()              → Promise of the station's IANA zone (read once from /console/api/trang-thai;
 *                              api() waits for it, so whatever a page draws from an answer is in station time)
 *   setStationTz(name)       → use this zone (Tổng quan passes each status it receives)
 *   fmtDuration(seconds), confirmDialog(title, text, okLabel) → Promise<bool>
 */
"use strict";

const LOA = { mePromise: null, tz: null, tzPromise: null, formats: {} };
const DEFAULT_TZ = "Asia/Ho_Chi_Minh";  // broadcaster/schedule/types.py DEFAULT_TIMEZONE

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function me() {
  if (!LOA.mePromise) {
    LOA.mePromise = fetch("/console/api/toi", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(async (r) => {
        if (r.status === 401) {
          location.href = "/console/dang-nhap?tiep=" + encodeURIComponent(location.pathname);
          throw new Error("Chưa đăng nhập.");
        }
        if (!r.ok) throw new Error("Không đọc được thông tin đăng nhập.");
        return r.json();
      });
  }
  return LOA.mePromise;
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, credentials: "same-origin", headers };
  if (method !== "GET" && method !== "HEAD") {
    const who = await me();
    headers["X-CSRF-Token"] = who.csrf;
  }
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    const msg = "Không kết nối được với phần mềm Loa xã. Kiểm tra máy phát thanh còn chạy không rồi thử lại.";
    toast(msg, "error");
    throw new Error(msg);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (response.status === 401 && !url.endsWith("/dang-nhap")) {
    location.href = "/console/dang-nhap?tiep=" + encodeURIComponent(location.pathname);
  }
  if (!response.ok) {
    const msg = (data && data.error) || `Lỗi ${response.status}. Hãy thử lại.`;
    toast(msg, "error");
    const error = new Error(msg);
    error.status = response.status;
    throw error;
  }
  await stationTz();  // dates in the answer are drawn right after: in the station's zone
  return data;
}

function toast(text, kind) {
  let box = document.getElementById("toast");
  if (!box) {
    box = el("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.prepend(box);
  }
  for (const old of box.querySelectorAll(".notice")) {
    if (old.dataset.text === String(text)) old.remove();  // the same message again: shown once
  }
  const item = el("div", { class: "notice " + (kind || "ok"), "data-text": String(text) }, text,
    el("button", { class: "close", type: "button", "aria-label": "Đóng", onclick: () => item.remove() }, "×"));
  box.append(item);
  while (box.children.length > 2) box.firstElementChild.remove();  // the newest two: never a wall over the page
  if (kind !== "error") setTimeout(() => item.remove(), 8000);
  return item;
}

async function nav() {
  const who = await me();
  const here = location.pathname.replace(/\/$/, "");
  const links = who.pages.map((p) =>
    el("a", { href: "/console/" + p.slug, class: here === "/console/" + p.slug ? "active" : null,
      "aria-current": here === "/console/" + p.slug ? "page" : null }, p.title));
  const menu = el("div", { class: "links", id: "nav-links" }, links);
  const toggle = el("button", { type: "button", class: "menu-toggle", "aria-expanded": "false",
    "aria-controls": "nav-links", onclick: () => {
      const open = menu.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    } }, "☰ Menu");
  const logout = el("button", { type: "button", class: "link", onclick: async () => {
    await api("POST", "/console/api/dang-xuat");
    location.href = "/console/dang-nhap";
  } }, "Đăng xuất");
  const bar = el("nav", { class: "topbar", "aria-label": "Các trang" },
    el("a", { class: "brand", href: "/console/tong-quan" }, "Loa xã"), toggle, menu,
    el("div", { class: "who" }, el("span", { text: `${who.name} (${who.role_vi})` }), logout));
  const old = document.querySelector("nav.topbar");
  if (old) old.replaceWith(bar);
  else document.body.prepend(bar);
  return who;
}

function pad2(n) {
  return String(n).padStart(2, "0");
}

/* The station's time zone: the status snapshot's ``timezone`` (or its campaign's), fetched once. */
function zoneOfStatus(s) {
  return (s && (s.timezone || (s.campaign && s.campaign.timezone))) || null;
}

function setStationTz(name) {
  if (!name || name === LOA.tz) return;
  try {
    new Intl.DateTimeFormat("vi-VN", { timeZone: name });
  } catch (err) {
    return;  // an unknown zone name: keep the one we have
  }
  LOA.tz = name;
  LOA.formats = {};
}

function stationTz() {
  if (LOA.tz) return Promise.resolve(LOA.tz);
  if (location.pathname.startsWith("/console/dang-nhap")) return Promise.resolve(DEFAULT_TZ);
  if (!LOA.tzPromise) {
    LOA.tzPromise = fetch("/console/api/trang-thai", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((s) => { setStationTz(zoneOfStatus(s)); })
      .catch(() => {})
      .then(() => {
        if (!LOA.tz) setStationTz(DEFAULT_TZ);
        return LOA.tz;
      });
  }
  return LOA.tzPromise;
}

const TIME_PARTS = {
  datetime: { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", year: "numeric" },
  time: { hour: "2-digit", minute: "2-digit" },
  seconds: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
  date: { day: "2-digit", month: "2-digit", year: "numeric" },
};

/* Every date/time the console shows goes through here: Intl in the station's zone, "HH:MM DD/MM/YYYY". */
function fmtTime(value, what) {
  if (value === null || value === undefined || value === "") return "";
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (isNaN(d)) return String(value);
  const kind = TIME_PARTS[what] ? what : "datetime";
  const tz = LOA.tz || DEFAULT_TZ;
  const key = kind + "|" + tz;
  if (!LOA.formats[key]) {
    LOA.formats[key] = new Intl.DateTimeFormat("vi-VN", { timeZone: tz, hourCycle: "h23", ...TIME_PARTS[kind] });
  }
  const p = {};
  for (const part of LOA.formats[key].formatToParts(d)) p[part.type] = part.value;
  const clock = kind === "seconds" ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
  const day = `${p.day}/${p.month}/${p.year}`;
  return kind === "date" ? day : kind === "datetime" ? `${clock} ${day}` : clock;
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const m = Math.floor(s / 60);
  return m ? `${m} phút ${pad2(s % 60)} giây` : `${s} giây`;
}

function confirmDialog(title, text, okLabel) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      el("h2", { id: "confirm-title" }, title), el("p", {}, text));
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    dialog.append(el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary", onclick: () => done(false) }, "Huỷ, không phát"),
      el("button", { type: "button", class: "danger", id: "confirm-ok", onclick: () => done(true) }, okLabel || "Đồng ý")));
    dialog.addEventListener("cancel", () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

if (!location.pathname.startsWith("/console/dang-nhap")) {
  stationTz();
  document.addEventListener("DOMContentLoaded", () => { nav().catch(() => {}); });
}

/* Vietnamese names of the daemon's values (the same as broadcaster/records.py and Priority.vi). */
const VI = {
  priority: { normal: "thông thường", priority: "ưu tiên", emergency: "khẩn cấp" },
  outcome: { started: "đang phát", played: "đã phát", interrupted: "bị ngắt", failed: "lỗi", missed: "bỏ lỡ",
    skipped: "bỏ qua", unapproved: "chưa duyệt" },
  source: { schedule: "lịch", adhoc: "phát ngay" },
};

function priorityBadge(priority) {
  return el("span", { class: "badge " + (priority || "") }, VI.priority[priority] || priority || "");
}

/* An item label as the daemon gives it ("script:ten-bai", "text:…", "audio:…") in plain words. */
function itemText(label) {
  const [kind, ...rest] = String(label).split(":");
  const value = rest.join(":");
  const names = { script: "bài đọc", text: "văn bản", audio: "tệp âm thanh", relay: "tiếp sóng" };
  return names[kind] ? `${names[kind]} ${value}` : String(label);
}
