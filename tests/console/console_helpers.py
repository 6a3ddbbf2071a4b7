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
