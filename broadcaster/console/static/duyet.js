/* Duyệt: approve or reject content (the reading shown as the voice will say it); acknowledge emergencies. */
"use strict";

async function decide(item, decision) {
  let note = "";
  if (decision === "reject") {
    note = prompt(`Lý do từ chối ${item.label} (người soạn sẽ đọc để sửa):`) || "";
    if (!note.trim()) return toast("Khi từ chối cần ghi lý do.", "warn");
  }
  const r = await api("POST", "/console/api/duyet", { digest: item.digest, decision, note });
  toast(r.message, "ok");
  await load();
}

function itemCard(item) {
  return el("li", {},
    el("p", {}, el("strong", {}, item.label), " ", el("span", { class: "badge" }, `mã ${item.code}`)),
    el("p", { class: "small muted" }, item.why + (item.slots.length ? ` — dùng trong buổi: ${item.slots.join(", ")}` : "")),
    item.reading ? el("div", { class: "reading" }, item.reading) : "",
    el("p", { class: "row" },
      el("button", { type: "button", onclick: () => decide(item, "approve").catch(() => {}) }, "Duyệt"),
      el("button", { type: "button", class: "danger", onclick: () => decide(item, "reject").catch(() => {}) }, "Từ chối")));
}

async function load() {
  const data = await api("GET", "/console/api/duyet");
  document.getElementById("required").textContent = data.required
    ? "Lịch phát bắt buộc duyệt: nội dung chưa duyệt sẽ KHÔNG được phát (trừ bản tin khẩn cấp)."
    : "Lịch phát chưa bắt buộc duyệt: nội dung vẫn phát, nhưng có thể duyệt trước.";
  document.getElementById("items").replaceChildren(data.items.length ? el("ul", { class: "plain" }, data.items.map(itemCard))
    : el("p", { class: "muted" }, "Không có nội dung nào chờ duyệt."));
  document.getElementById("reviews").replaceChildren(data.reviews.length ? el("ul", { class: "plain" }, data.reviews.map((r) =>
    el("li", {}, el("p", {}, el("strong", {}, r.title), ` — ${fmtTime(r.aired_at)}`, r.requested_by ? `, do ${r.requested_by} yêu cầu` : ""),
      el("div", { class: "reading" }, r.content),
      el("p", {}, el("button", { type: "button", onclick: async () => {
        const res = await api("POST", `/console/api/duyet/xem-lai/${r.id}`);
        toast(res.message, "ok");
        await load();
      } }, "Đã xem lại"))))) : el("p", { class: "muted" }, "Không có bản tin khẩn cấp nào cần xem lại."));
}

load().catch(() => {});
