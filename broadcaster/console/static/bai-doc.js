/* Bài đọc: the scripts of scripts_vi/, an edit area, the reading as it will be spoken, Nghe thử. */
"use strict";

const BD = { name: null, base: null, canEdit: false, timer: null, audioUrl: null };
const NAME_RULE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;

async function loadList() {
  const data = await api("GET", "/console/api/scripts");
  BD.canEdit = data.can_edit;
  document.getElementById("new-form").hidden = !data.can_edit;
  const list = document.getElementById("scripts");
  if (!data.scripts.length) {
    list.replaceChildren(el("li", { class: "muted" }, "Chưa có bài nào."));
    return;
  }
  list.replaceChildren(...data.scripts.map((s) => el("li", {},
    el("button", { type: "button", class: s.name === BD.name ? "active" : null, "data-script": s.name,
      onclick: () => openScript(s.name) },
    el("span", {}, s.name),
    el("span", { class: "small muted" }, s.used_by.length ? `dùng trong: ${s.used_by.join(", ")}` : "chưa dùng")))));
}

function showReading(data) {
  document.getElementById("s-reading").textContent = data.reading || "(trống)";
  const box = document.getElementById("s-warnings");
  box.replaceChildren(...(data.warnings || []).map((w) => el("li", {}, `Dòng ${w.line}, cột ${w.col}: ${w.message}`)));
  box.hidden = !(data.warnings || []).length;
}

function setError(text) {
  const box = document.getElementById("s-error");
  box.textContent = text || "";
  box.hidden = !text;
}

async function openScript(name, fresh) {
  setError("");
  const text = document.getElementById("s-text");
  if (fresh) {
    BD.base = null;
    text.value = "";
    document.getElementById("s-used").textContent = "Bài mới — viết nội dung rồi bấm Lưu.";
    showReading({ reading: "" });
  } else {
    const data = await api("GET", "/console/api/scripts/" + encodeURIComponent(name));
    BD.base = data.base;
    text.value = data.text;
    document.getElementById("s-used").textContent = `Tệp scripts_vi/${name}.txt`;
    showReading(data);
  }
  BD.name = name;
  document.getElementById("s-title").textContent = `Bài “${name}”`;
  text.readOnly = !BD.canEdit;
  document.getElementById("s-save").hidden = !BD.canEdit;
  document.getElementById("s-preview").hidden = !BD.canEdit;
  document.getElementById("s-audio").hidden = true;
  document.getElementById("editor").hidden = false;
  for (const b of document.querySelectorAll("#scripts button")) b.classList.toggle("active", b.dataset.script === name);
}

function readingSoon() {
  clearTimeout(BD.timer);
  BD.timer = setTimeout(async () => {
    try {
      showReading(await api("POST", "/console/api/scripts/reading", { text: document.getElementById("s-text").value }));
    } catch (err) { /* already shown */ }
  }, 500);
}

async function saveScript() {
  setError("");
  const button = document.getElementById("s-save");
  button.disabled = true;
  try {
    const data = await api("PUT", "/console/api/scripts/" + encodeURIComponent(BD.name),
      { text: document.getElementById("s-text").value, base: BD.base });
    BD.base = data.base;
    showReading(data);
    toast(data.created ? `Đã tạo bài “${BD.name}”.` : `Đã lưu bài “${BD.name}”.`, "ok");
    await loadList();
  } catch (err) {
    setError(err.message);
  } finally {
    button.disabled = false;
  }
}

async function preview() {
  setError("");
  const button = document.getElementById("s-preview");
  button.disabled = true;
  button.textContent = "Đang tạo giọng đọc…";
  try {
    const who = await me();
    const response = await fetch("/console/api/scripts/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": who.csrf },
      body: JSON.stringify({ text: document.getElementById("s-text").value }),
    });
    if (!response.ok) {
      let message = `Lỗi ${response.status}. Hãy thử lại.`;
      try { message = (await response.json()).error || message; } catch (err) { /* not JSON */ }
      setError(message);
      return;
    }
    if (BD.audioUrl) URL.revokeObjectURL(BD.audioUrl);
    BD.audioUrl = URL.createObjectURL(await response.blob());
    const audio = document.getElementById("s-audio");
    audio.src = BD.audioUrl;
    audio.hidden = false;
    audio.play().catch(() => {});
  } catch (err) {
    setError("Không kết nối được với phần mềm Loa xã. Kiểm tra máy phát thanh rồi thử lại.");
  } finally {
    button.disabled = false;
    button.textContent = "▶ Nghe thử";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("s-text").addEventListener("input", readingSoon);
  document.getElementById("s-save").addEventListener("click", saveScript);
  document.getElementById("s-preview").addEventListener("click", preview);
  document.getElementById("new-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = document.getElementById("new-name").value.trim();
    if (!NAME_RULE.test(name)) {
      toast("Tên bài chỉ dùng chữ không dấu, số và dấu '-', ví dụ: tin-sang.", "error");
      return;
    }
    openScript(name, true);
  });
  loadList().catch(() => {});
});
