"""Helpers for console tests: users, logging in (browser and plain HTTP), the daemon's address."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "mat-khau-thu-1"
ROLES = ("admin", "operator", "approver", "viewer")


def base_url(project_root: Path) -> str:
    """``http://127.0.0.1:<port>`` of the daemon running this project (from state/daemon.json)."""
    info = json.loads((Path(project_root) / "state" / "daemon.json").read_text())
    return f"http://127.0.0.1:{info['port']}"


def add_user(project: Any, name: str, role: str, password: str = PASSWORD) -> None:
    """``broadcaster user add NAME --role ROLE --password-stdin`` (the real CLI)."""
    done = project.cli("user", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert done.returncode == 0, done.stdout + done.stderr


def login(page: Any, base: str, name: str, password: str = PASSWORD) -> None:
    """Log in through the login form of a Playwright page and wait for the overview."""
    page.goto(f"{base}/console/dang-nhap")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#login-button")
    page.wait_for_url(re.compile(r".*/console/(?!dang-nhap).*"), timeout=15_000)
    page.wait_for_selector("nav.topbar", timeout=10_000)


def http_login(base: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A plain HTTP client holding the session cookie, and the session's CSRF token."""
    client = httpx.Client(base_url=base, timeout=10.0)
    r = client.post("/console/api/dang-nhap", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    return client, r.json()["csrf"]


def audit_lines(project_root: Path) -> list[dict[str, Any]]:
    """The audit trail, one dict per line."""
    path = Path(project_root) / "state" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- phone layout and readability (test_console_mobile) ------------------------------------------

PHONE_WIDTH = 360

#: in the page: the contrast ratio (WCAG) of an element's text against what is painted behind it —
#: its own and its ancestors' backgrounds, each ancestor's opacity applied (siblings ignored)
CONTRAST_JS = """(node) => {
  const rgba = (text) => {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const v = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3]));
  const mix = (a, b, o) => [0, 1, 2].map((i) => a[i] * o + b[i] * (1 - o));
  const chain = [];
  for (let n = node; n && n.nodeType === 1; n = n.parentElement) chain.unshift(n);
  let below = [255, 255, 255];
  const under = [];
  for (const n of chain) { under.push(below); below = over(rgba(getComputedStyle(n).backgroundColor), below); }
  let text = over(rgba(getComputedStyle(node).color), below);
  let back = below;
  for (let i = chain.length - 1; i >= 0; i--) {
    const o = Number(getComputedStyle(chain[i]).opacity);
    text = mix(text, under[i], o);
    back = mix(back, under[i], o);
  }
  const lum = (c) => {
    const [r, g, b] = c.map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(text), lum(back)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def page_width(page: Any) -> int:
    """How wide the page is laid out (more than the viewport: the phone must scroll sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def wider_than(page: Any, width: int = PHONE_WIDTH) -> list[str]:
    """The first elements that stick out past ``width`` px, to say which ones in a failure."""
    return list(
        page.evaluate(
            """(width) => [...document.querySelectorAll('body *')]
              .filter((e) => e.getBoundingClientRect().right > width + 0.5)
              .slice(0, 6).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} → `
                + `${Math.round(e.getBoundingClientRect().right)} px: ${(e.textContent || '').slice(0, 60)}`)""",
            width,
        )
    )


def contrast(page: Any, selector: str) -> list[float]:
    """The text contrast ratio of every element matching ``selector``, as painted now."""
    return [float(page.evaluate(CONTRAST_JS, h)) for h in page.query_selector_all(selector)]


def is_on_top(page: Any, selector: str) -> bool:
    """Whether a click at the element's centre reaches it (nothing covers it)."""
    return bool(
        page.evaluate(
            """(sel) => { const b = document.querySelector(sel); const r = b.getBoundingClientRect();
              const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
              return hit === b || b.contains(hit); }""",
            selector,
        )
    )
