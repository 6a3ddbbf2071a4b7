/* Login page: post the name and password, then go where the user was going (only inside /console/). */
"use strict";

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("login-error");
  const button = document.getElementById("login-button");
  const name = document.getElementById("name").value.trim();
  const password = document.getElementById("password").value;
  box.hidden = true;
  if (!name || !password) {
    box.textContent = "Hãy nhập cả tên đăng nhập và mật khẩu.";
    box.hidden = false;
    return;
  }
  button.disabled = true;
  button.textContent = "Đang kiểm tra…";
  try {
    const r = await fetch("/console/api/dang-nhap", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, password }),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || "Đăng nhập không thành công. Hãy thử lại.");
    const next = new URLSearchParams(location.search).get("tiep") || "";
    // only a console path: a crafted link must not send the user to another site
    location.href = /^\/console\/[a-z-]+$/.test(next) && next !== "/console/dang-nhap" ? next : "/console/tong-quan";
  } catch (err) {
    box.textContent = err.message.startsWith("Failed") ? "Không kết nối được với phần mềm Loa xã." : err.message;
    box.hidden = false;
    button.disabled = false;
    button.textContent = "Đăng nhập";
  }
});
