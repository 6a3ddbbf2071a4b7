/* Phát ngay: text (with its reading, debounced), a script, a phone recording or the microphone;
 * "Nghe thử"; priority (a confirm dialog for khẩn cấp); zones; send. Uploads go in pieces. */
"use strict";

const PN = { audio: null, localUrl: null, timer: null, recorder: null, chunks: [] };
const CHUNK = 192 * 1024;

function $(id) {
  return document.getElementById(id);
}

function kind() {
  return document.querySelector("input[name=kind]:checked").value;
}

function showKind() {
  const k = kind();
  document.querySelectorAll("[data-kind]").forEach((node) => {
    node.hidden = !node.dataset.kind.split(" ").includes(k);
  });
  $("listen").hidden = false;
  refreshReading();
}

function speechBody() {
  return kind() === "script" ? { script: $("script").value } : { text: $("text").value };
}

async function refreshReading() {
  const k = kind();
  if (k !== "text" && k !== "script") return;
  const body = speechBody();
  if (!(body.text || "").trim() && !body.script) {
    $("reading").textContent = k === "text" ? "Nhập văn bản để xem cách đọc." : "Chọn một bài để xem cách đọc.";
    $("reading").classList.add("muted");
    return;
  }
  try {
    const r = await fetch("/console/api/cach-doc", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": (await me()).csrf },
      body: JSON.stringify(body),
    });
    const data = await r.json();
    $("reading").textContent = r.ok ? data.reading : data.error;
    $("reading").classList.toggle("muted", !r.ok);
  } catch (err) {
    $("reading").textContent = "Không lấy được cách đọc (mất kết nối).";
  }
}

function onType() {
  $("chars").textContent = String($("text").value.length);
  clearTimeout(PN.timer);
  PN.timer = setTimeout(refreshReading, 400);
}

async function uploadBlob(blob, name) {
  PN.audio = null;
  const id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  const parts = Math.max(1, Math.ceil(blob.size / CHUNK));
  const state = $("upload-state");
  state.className = "small";
  try {
    let answer = null;
    for (let i = 0; i < parts; i += 1) {
      state.textContent = `Đang tải lên… ${Math.round((i / parts) * 100)}%`;
      const piece = blob.slice(i * CHUNK, (i + 1) * CHUNK);
      const url = `/console/api/tai-len?id=${id}&part=${i}&last=${i === parts - 1 ? "true" : "false"}` +
        `&name=${encodeURIComponent(name)}`;
      let r = null;
      for (let attempt = 0; attempt < 20; attempt += 1) {  // a long recording meets the rate limit: wait, go on
        r = await fetch(url, { method: "POST", credentials: "same-origin", body: piece,
          headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": (await me()).csrf } });
        if (r.status !== 429) break;
        const wait = Math.min(10, Number(r.headers.get("Retry-After")) || 1);
        state.textContent = `Đang tải lên… ${Math.round((i / parts) * 100)}% (chờ ${wait} giây)`;
        await new Promise((done) => setTimeout(done, wait * 1000));
      }
      answer = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(answer.error || `Lỗi ${r.status} khi tải lên.`);
    }
    PN.audio = answer.audio;
    state.textContent = "✔ " + answer.message;
    state.className = "small notice ok";
  } catch (err) {
    state.textContent = err.message;
    state.className = "small notice error";
  }
  if (PN.localUrl) URL.revokeObjectURL(PN.localUrl);
  PN.localUrl = URL.createObjectURL(blob);
}

async function startRecording() {
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    toast("Trình duyệt này không ghi âm được. Hãy ghi bằng điện thoại rồi chọn «Tệp ghi âm».", "error");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    toast("Không mở được micrô: hãy cho phép trang dùng micrô (biểu tượng ổ khoá cạnh địa chỉ) rồi thử lại.", "error");
    return;
  }
  PN.chunks = [];
  const type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "";
  PN.recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
  PN.recorder.ondataavailable = (e) => { if (e.data.size) PN.chunks.push(e.data); };
  PN.recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    const blob = new Blob(PN.chunks, { type: PN.recorder.mimeType || "audio/webm" });
    $("rec-state").textContent = "Đã ghi xong, đang gửi lên máy phát thanh…";
    uploadBlob(blob, (PN.recorder.mimeType || "").includes("ogg") ? "ghi-am.ogg" : "ghi-am.webm");
  };
  PN.recorder.start(1000);
  $("rec-start").disabled = true;
  $("rec-stop").disabled = false;
  $("rec-state").textContent = "● Đang ghi âm… Nói rõ ràng, gần micrô.";
}

function stopRecording() {
  if (PN.recorder && PN.recorder.state !== "inactive") PN.recorder.stop();
  $("rec-start").disabled = false;
  $("rec-stop").disabled = true;
}

async function listen() {
  const player = $("player");
  const k = kind();
  if (k === "file" || k === "mic") {
    if (!PN.localUrl) return toast("Chưa có tệp ghi âm để nghe thử.", "warn");
    player.src = PN.localUrl;
  } else {
    $("listen").disabled = true;
    $("listen").textContent = "Đang tạo giọng đọc…";
    try {
      const r = await fetch("/console/api/nghe-thu", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": (await me()).csrf },
        body: JSON.stringify(speechBody()) });
      if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || "Không nghe thử được.");
      player.src = URL.createObjectURL(await r.blob());
    } catch (err) {
      toast(err.message, "error");
      return;
    } finally {
      $("listen").disabled = false;
      $("listen").textContent = "Nghe thử";
    }
  }
  player.hidden = false;
  player.play().catch(() => {});
}

function announcement() {
  const k = kind();
  const body = {
    priority: document.querySelector("input[name=priority]:checked").value,
    repeat: Number($("repeat").value) || 1,
    chime: $("chime").checked,
  };
  const zones = Array.from(document.querySelectorAll("#zones input:checked")).map((i) => i.value);
  if (zones.length) body.zones = zones;
  if (k === "text") body.text = $("text").value;
  else if (k === "script") body.script = $("script").value;
  else body.audio = PN.audio;
  return body;
}

async function send(event) {
  event.preventDefault();
  const body = announcement();
  if ((kind() === "file" || kind() === "mic") && !body.audio) {
    return toast("Chưa có tệp ghi âm đã tải lên. Hãy chọn tệp hoặc ghi âm trước.", "warn");
  }
  if (kind() === "script" && !body.script) return toast("Hãy chọn một bài đọc.", "warn");
  if (body.priority === "emergency") {
    const ok = await confirmDialog("Phát KHẨN CẤP?",
      "Bản tin khẩn cấp sẽ CẮT NGAY bản tin đang phát và phát ở tất cả các loa đã chọn. Chỉ dùng khi thật sự khẩn cấp.",
      "Phát khẩn cấp");
    if (!ok) return;
  }
  $("send").disabled = true;
  try {
    const r = await api("POST", "/console/api/phat-ngay", body);
    $("result").replaceChildren(el("p", { class: "notice ok" }, `✔ ${r.message} (${r.title})`,
      el("br"), el("a", { href: "/console/tong-quan" }, "Xem trên trang Tổng quan")));
  } catch (err) {
    $("result").replaceChildren(el("p", { class: "notice error" }, err.message));
  } finally {
    $("send").disabled = false;
  }
}

async function loadChoices() {
  const list = await api("GET", "/console/api/bai-doc-san");
  $("script").append(...list.scripts.map((s) => el("option", { value: s }, s)));
  const status = await api("GET", "/console/api/trang-thai");
  const zones = status.zones || [];
  $("zones-box").hidden = !zones.length;
  $("zones").replaceChildren(...zones.map((z) => {
    const id = z.name;
    return el("label", { class: "choice" }, el("input", { type: "checkbox", value: id }), z.name || id);
  }));
}

document.querySelectorAll("input[name=kind]").forEach((r) => r.addEventListener("change", showKind));
$("text").addEventListener("input", onType);
$("script").addEventListener("change", refreshReading);
$("file").addEventListener("change", () => {
  const f = $("file").files[0];
  if (f) uploadBlob(f, f.name);
});
$("rec-start").addEventListener("click", startRecording);
$("rec-stop").addEventListener("click", stopRecording);
$("listen").addEventListener("click", listen);
$("send-form").addEventListener("submit", send);
loadChoices();
