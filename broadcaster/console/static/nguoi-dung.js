/* Người dùng: list/add/change users (admin only; the server checks every call), and the audit trail. */
"use strict";

let ROLES = [];

/* One audit entry's details as the server put them into words (people.describe_entry): the sentence,
 * the changed lines folded as before/after, and the technical part (hashes, keys) folded apart. */
function auditDetail(e) {
  const box = el("div", { class: "audit-detail" });
  if (e.summary) box.append(el("p", { class: "summary" }, e.summary));
  const changes = e.changes || [];
  if (changes.length) {
    const count = changes.length + (e.more_changes || 0);
    box.append(el("details", { class: "changes" },
      el("summary", {}, `Xem ${count} thay đổi (trước → sau)`),
      el("ul", { class: "changes" }, changes.map((c) => el("li", {},
        c.where ? el("span", { class: "where" }, c.where) : "",
        el("span", { class: "side before" }, el("b", {}, "Trước:"), c.before === null ? "(chưa có)" : c.before),
        el("span", { class: "side after" }, el("b", {}, "Sau:"), c.after === null ? "(đã xoá)" : c.after)))),
      e.more_changes ? el("p", { class: "small muted" },
        `… và ${e.more_changes} thay đổi khác (xem đầy đủ bằng lệnh 'broadcaster audit').`) : ""));
  }
  const technical = e.technical || [];
  if (technical.length) {
    box.append(el("details", { class: "tech" }, el("summary", { class: "small" }, "Chi tiết kỹ thuật"),
      technical.map((t) => el("p", {}, t))));
  }
  if (!box.childNodes.length) box.append(el("span", { class: "muted" }, "—"));
  return box;
}

async function change(name, body) {
  const r = await api("PATCH", `/console/api/nguoi-dung/${encodeURIComponent(name)}`, body);
  toast(r.message, "ok");
  await loadAll();
}

function userRow(u) {
  const role = el("select", { "aria-label": `Vai trò của ${u.name}`,
    onchange: (e) => change(u.name, { role: e.target.value }).catch(loadAll) },
  ROLES.map((r) => el("option", { value: r.value, selected: r.value === u.role }, r.vi)));
  const toggle = el("button", { type: "button", class: u.active ? "secondary" : "", onclick: async () => {
    if (u.active && !(await confirmDialog("Khoá tài khoản?", `'${u.name}' sẽ bị đăng xuất và không đăng nhập được nữa.`, "Khoá"))) return;
    await change(u.name, { active: !u.active });
  } }, u.active ? "Khoá" : "Mở khoá");
  const reset = el("button", { type: "button", class: "secondary", onclick: async () => {
    const password = prompt(`Mật khẩu mới cho '${u.name}' (ít nhất 8 ký tự):`);
    if (password) await change(u.name, { password });
  } }, "Đặt mật khẩu");
  return el("tr", {},
    el("td", { "data-label": "Tên đăng nhập" }, el("strong", {}, u.name)),
    el("td", { "data-label": "Vai trò" }, role),
    el("td", { "data-label": "Trạng thái" }, el("span", { class: "badge " + (u.active ? "ok" : "bad") }, u.active ? "đang dùng" : "đã khoá")),
    el("td", { "data-label": "Đăng nhập gần nhất" }, u.last_login_at ? fmtTime(u.last_login_at) : "chưa"),
    el("td", { "data-label": "Thao tác" }, el("div", { class: "row" }, toggle, reset)));
}

async function loadAll() {
  const data = await api("GET", "/console/api/nguoi-dung");
  ROLES = data.roles;
  const select = document.getElementById("new-role");
  if (!select.options.length) {
    select.append(...ROLES.map((r) => el("option", { value: r.value, selected: r.value === "operator" }, r.vi)));
  }
  document.querySelector("#users tbody").replaceChildren(...data.users.map(userRow));
  const log = await api("GET", "/console/api/nhat-ky-thao-tac?limit=200");
  document.querySelector("#audit tbody").replaceChildren(...log.entries.map((e) => el("tr", {},
    el("td", { "data-label": "Lúc", title: e.integrity || null }, fmtTime(e.at)),
    el("td", { "data-label": "Ai" }, e.who),
    el("td", { "data-label": "Việc" }, e.action_vi),
    el("td", { "data-label": "Từ đâu" }, e.where),
    el("td", { "data-label": "Chi tiết", class: "small wide" }, auditDetail(e)))));
}

document.getElementById("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    name: document.getElementById("new-name").value.trim(),
    role: document.getElementById("new-role").value,
    password: document.getElementById("new-password").value,
  };
  try {
    const r = await api("POST", "/console/api/nguoi-dung", body);
    toast(r.message, "ok");
    document.getElementById("new-name").value = "";
    document.getElementById("new-password").value = "";
    await loadAll();
  } catch (err) { /* api() has shown the message */ }
});

loadAll().catch(() => {});
