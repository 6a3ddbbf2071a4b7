"""Files on a real daemon: no symlink followed (scripts, upload pieces), no upload piece left behind,
a quota on audio/uploads/, and state/ + uploads the owner's only (0700 folders, 0600 files)."""

from __future__ import annotations

import io
import os
import stat
import time
import wave
from pathlib import Path

import pytest

from broadcaster import uploads
from broadcaster.fsutil import UnsafePath, open_inside, read_text_inside
from broadcaster.layout import Layout
from tests.console.console_helpers import add_user, base_url, http_login
from tests.support.harness import Daemon, Project

slow = pytest.mark.slow  # the daemon tests; the helpers' own tests at the end are fast

OLD = time.time() - 2 * 3600
STALE_ID, FRESH_ID = "de" * 8, "fe" * 8


def _wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    project = Project(root)
    project.save()
    umask = os.umask(0o022)  # what a shell gives: the CLI below makes state/ 0755 and users.sqlite3 0644
    add_user(project, "lan", "operator")
    os.chmod(root / "state", 0o755)
    (root / "scripts_vi" / "leak.txt").symlink_to(root / "state" / "api-token")
    uploads = root / "audio" / "uploads"
    uploads.mkdir()
    (uploads / "cu.wav").write_bytes(_wav())
    os.chmod(uploads / "cu.wav", 0o644)
    for upload_id, when in ((STALE_ID, OLD), (FRESH_ID, time.time())):
        (uploads / f".{upload_id}.part").write_bytes(b"x" * 1000)
        os.utime(uploads / f".{upload_id}.part", (when, when))
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    yield d
    os.umask(umask)
    assert d.terminate() == 0


@pytest.fixture(scope="module")
def console(daemon):
    client, csrf = http_login(base_url(daemon.project.root), "lan")
    client.headers["X-CSRF-Token"] = csrf
    yield client
    client.close()


def _send(console, upload_id: str, part: int, data: bytes, *, last: bool = False, name: str = "ghi-am.wav"):
    """One piece; a 429 (the console's rate limit: 50 MB is 267 pieces) is retried as a polite client does."""
    params = {"id": upload_id, "part": part, "last": "true" if last else "false", "name": name}
    for _ in range(20):
        r = console.post("/console/api/tai-len", params=params, content=data)
        if r.status_code != 429:
            break
        time.sleep(float(r.headers.get("Retry-After") or 1))
    return r


def _uploads(daemon) -> Path:
    return daemon.project.root / "audio" / "uploads"


# -- symlinks ---------------------------------------------------------------------------------------


@slow
def test_a_script_that_is_a_symlink_is_never_read(daemon, console):
    token = (daemon.project.root / "state" / "api-token").read_text().strip()
    for route in ("/console/api/cach-doc", "/console/api/nghe-thu"):
        r = console.post(route, json={"script": "leak"})
        assert r.status_code == 400 and "liên kết" in r.json()["error"], r.text
        assert token not in r.text
    r = console.get("/console/api/scripts/leak")
    assert r.status_code == 400 and token not in r.text
    r = console.post("/console/api/cach-doc", json={"script": "thu"})  # a real script still reads
    assert r.status_code == 200 and r.json()["reading"]


@slow
def test_an_announcement_of_a_symlinked_script_is_refused_before_airing(daemon, console):
    before = len(daemon.project.asrun_rows())
    code, answer = daemon.api("POST", "/api/announcements", {"script": "leak"})
    assert code == 400 and "liên kết" in answer["error"], answer
    r = console.post("/console/api/phat-ngay", json={"script": "leak", "chime": False})
    assert r.status_code == 400 and "liên kết" in r.json()["error"], r.text
    time.sleep(0.5)
    assert len(daemon.project.asrun_rows()) == before


@slow
def test_a_planted_part_symlink_is_not_written_through(daemon, console):
    victim = daemon.project.root / "victim.txt"
    victim.write_text("nguyên vẹn\n")
    upload_id = "a1" * 8
    partial = _uploads(daemon) / f".{upload_id}.part"
    partial.symlink_to(victim)
    r = _send(console, upload_id, 0, b"RIFF-first-piece")  # the link is removed, a new file made
    assert r.status_code == 200, r.text
    assert victim.read_text() == "nguyên vẹn\n" and not partial.is_symlink()
    partial.unlink()
    partial.symlink_to(victim)  # swapped in between two pieces
    r = _send(console, upload_id, 1, b"second-piece")
    assert r.status_code == 400 and "liên kết" in r.json()["error"], r.text
    assert victim.read_text() == "nguyên vẹn\n" and not os.path.lexists(partial)


@slow
def test_an_uploads_folder_that_is_a_symlink_is_refused(daemon, console):
    folder, elsewhere = _uploads(daemon), daemon.project.root / "elsewhere"
    elsewhere.mkdir()
    folder.rename(daemon.project.root / "audio" / "uploads-real")
    folder.symlink_to(elsewhere)
    try:
        r = _send(console, "b2" * 8, 0, _wav(), last=True)
        assert r.status_code == 400 and "liên kết" in r.json()["error"], r.text
        assert list(elsewhere.iterdir()) == []
    finally:
        folder.unlink()
        (daemon.project.root / "audio" / "uploads-real").rename(folder)


# -- no piece left behind, a quota ---------------------------------------------------------------------


@slow
def test_stale_pieces_are_swept_at_start_and_before_each_upload(daemon, console):
    assert not (_uploads(daemon) / f".{STALE_ID}.part").exists()  # an hour old at start: gone
    fresh = _uploads(daemon) / f".{FRESH_ID}.part"
    assert fresh.exists()  # a recent one may still be going on
    os.utime(fresh, (OLD, OLD))
    assert _send(console, "c3" * 8, 0, b"piece").status_code == 200
    assert not fresh.exists()


@slow
def test_a_too_big_upload_leaves_no_piece(daemon, console):
    upload_id, piece = "d4" * 8, b"\0" * (192 * 1024)
    for part in range(400):  # bounded: 50 MB is 267 pieces
        r = _send(console, upload_id, part, piece)
        if r.status_code != 200:
            break
    assert r.status_code == 413 and "quá lớn" in r.json()["error"], r.text
    assert not (_uploads(daemon) / f".{upload_id}.part").exists()


@slow
def test_an_interrupted_or_bad_upload_leaves_nothing(daemon, console):
    upload_id = "e5" * 8
    assert _send(console, upload_id, 0, b"piece").status_code == 200
    r = _send(console, upload_id, 2, b"piece")  # a piece lost on the way
    assert r.status_code == 409, r.text
    assert not (_uploads(daemon) / f".{upload_id}.part").exists()
    before = sorted(p.name for p in _uploads(daemon).iterdir())
    r = _send(console, "f6" * 8, 0, b"not audio at all", last=True)
    assert r.status_code == 400
    assert sorted(p.name for p in _uploads(daemon).iterdir()) == before


@slow
def test_uploads_past_the_quota_are_refused(daemon, console):
    big = _uploads(daemon) / "cu-lon.wav"
    with open(big, "wb") as fh:
        fh.truncate(500 * 1024 * 1024)  # sparse: counts 500 MB, takes no disk
    try:
        r = _send(console, "a7" * 8, 0, _wav(), last=True)
        assert r.status_code == 507 and "xoá bớt" in r.json()["error"], r.text
        assert not (_uploads(daemon) / f".{'a7' * 8}.part").exists()
    finally:
        big.unlink()
    r = _send(console, "a7" * 8, 0, _wav(), last=True)
    assert r.status_code == 200, r.text


# -- owner-only files (last: it stops the daemon) ----------------------------------------------------------


@slow
def test_after_a_run_every_file_under_state_and_uploads_is_the_owners_only(daemon, console):
    assert _send(console, "b8" * 8, 0, _wav(), last=True).status_code == 200
    code, _ = daemon.api("POST", "/api/announcements", {"text": "Thử quyền tệp.", "chime": False})
    assert code == 202
    deadline = time.monotonic() + 60
    while not any(r["status"] == "played" for r in daemon.project.asrun_rows()):
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.2)
    assert daemon.terminate() == 0
    root = daemon.project.root
    wrong = []
    for top in (root / "state", root / "audio" / "uploads"):
        for here, dirs, files in os.walk(top):
            for name, want in [(".", 0o700)] + [(d, 0o700) for d in dirs] + [(f, 0o600) for f in files]:
                path = Path(here) / name
                mode = stat.S_IMODE(path.lstat().st_mode)
                if mode != want:
                    wrong.append(f"{path.relative_to(root)} {oct(mode)}")
    assert not wrong, wrong
    assert "state" in daemon.wait_for("Đã khoá quyền")  # said once, at start: state/ was 0755
    assert {p.name for p in (root / "state").iterdir()} >= {"asrun.sqlite3", "users.sqlite3", "audit.jsonl"}


# -- the helpers themselves (fast) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "plant, words",
    [
        (lambda r: (r / "a.txt").symlink_to(r / "real.txt"), "tệp là một liên kết"),
        (lambda r: (r / "a.txt").symlink_to(r.parent / "secret"), "trỏ ra ngoài thư mục"),
        (lambda r: os.mkfifo(r / "a.txt"), "không phải tệp thường"),  # a read would hang
    ],
)
def test_open_inside_refuses_links_and_odd_files(tmp_path: Path, plant, words):
    root = tmp_path / "station"
    root.mkdir()
    (root / "real.txt").write_text("thật")
    (tmp_path / "secret").write_text("bí mật")
    plant(root)
    with pytest.raises(UnsafePath, match=words):
        read_text_inside(root, "a.txt")


def test_open_inside_refuses_a_linked_folder_dotdot_and_a_hard_link_to_write(tmp_path: Path):
    root = tmp_path / "station"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.txt").write_text("thật")
    (root / "linked").symlink_to(root / "real")
    assert read_text_inside(root, root / "real" / "a.txt") == "thật"
    with pytest.raises(UnsafePath, match="không phải thư mục thật"):
        read_text_inside(root, "linked/a.txt")
    with pytest.raises(UnsafePath, match="'..'"):
        read_text_inside(root / "real", "../real/a.txt")
    os.link(root / "real" / "a.txt", root / "real" / "b.txt")
    with pytest.raises(UnsafePath, match="liên kết cứng"):
        os.close(open_inside(root, "real/b.txt", os.O_WRONLY | os.O_APPEND))


def test_sweep_and_quota_of_the_uploads_folder(tmp_path: Path):
    layout = Layout.at(tmp_path)
    folder = layout.uploads_dir
    folder.mkdir(parents=True)
    (folder / ".old.part").write_bytes(b"x")
    os.utime(folder / ".old.part", (OLD, OLD))
    (folder / ".new.part").write_bytes(b"x")
    (folder / ".link.part").symlink_to(tmp_path / "anything")
    (folder / "old-recording.wav").write_bytes(b"x")
    os.utime(folder / "old-recording.wav", (OLD, OLD))
    assert sorted(uploads.sweep_parts(folder)) == [".link.part", ".old.part"]
    assert sorted(p.name for p in folder.iterdir()) == [".new.part", "old-recording.wav"]
    uploads.write_part(layout, "ab" * 8, 0, b"12345", quota=100)
    with pytest.raises(uploads.UploadRefused, match="xoá bớt") as refused:
        uploads.write_part(layout, "ab" * 8, 1, b"z" * 100, quota=100)
    assert refused.value.status == 507
    assert stat.S_IMODE(uploads.part_path(layout, "ab" * 8).stat().st_mode) == 0o600
