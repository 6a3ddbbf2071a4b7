"""Every native library the tests load comes from a package scripts/setup.sh installs, or from a minimal Debian.

A fresh Debian 12 lacked ``libatomic1``, which Playwright's bundled node links: every browser test errored
there, while passing on machines that happened to have the library. Nothing Debian installs declares the
libraries of native code that comes from elsewhere (Playwright's node, the venv's wheels, what Python
dlopens), so this test resolves them with ``ldd`` (and ``/proc/self/maps``), maps each to its Debian package
with ``dpkg -S`` and requires that package to be in the dependency closure either of setup.sh's
``packages=(…)`` / ``packages+=(…)`` lines or of what ``debootstrap --variant=minbase`` installs (Priority
``required``, and apt). The tools the tests call (pactl, ffmpeg, icecast2, chromium…) must come from there
too. It catches the gap on any Debian machine, with the library installed or not; the whole suite in a
real minimal root is ``scripts/minbase-check.sh``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SETUP = REPO / "scripts" / "setup.sh"
VENV = Path(sys.prefix).resolve()
# An interpreter not from Debian (pyenv, a build in /opt) brings its own libraries, like a wheel.
PYTHON_HOME = Path(sys.base_prefix).resolve()
OWN = (VENV,) if PYTHON_HOME == Path("/usr") else (VENV, PYTHON_HOME)

# Tools the tests or the broadcaster run that no ``shutil.which("…")`` literal names.
TOOLS = ("pulseaudio", "pactl", "parec", "pacat", "icecast2", "ffmpeg", "ffprobe", "espeak-ng", "sh")
# What Python must be able to load: sounddevice dlopens PortAudio, soundfile libsndfile (bundled or the
# system's), the rest are extension modules with their own libraries.
MODULES = ("sounddevice", "soundfile", "lameenc", "av", "numpy", "sqlite3", "ssl", "ctypes", "lzma", "bz2")
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("dpkg", "dpkg-query", "apt-cache", "ldd")),
    reason="not a Debian system (dpkg, dpkg-query, apt-cache or ldd missing): setup.sh's package lists are Debian's",
)


def setup_packages() -> list[str]:
    """The names on every ``packages=(…)`` / ``packages+=(…)`` line of scripts/setup.sh, --test included."""
    text = re.sub(r"(^|\s)#.*$", "", SETUP.read_text(), flags=re.MULTILINE)
    names: list[str] = []
    for group in re.findall(r"\bpackages\+?=\(([^)]*)\)", text):
        names += [n for n in group.split() if n not in names]
    return names


def _run(args: list[str], *, check: bool = True) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}… failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def minbase_packages() -> list[str]:
    """What ``debootstrap --variant=minbase`` picks before dependencies: Priority required, and apt."""
    out = _run(["dpkg-query", "-W", "-f=${Package} ${Priority} ${db:Status-Abbrev}\\n"])
    return sorted({"apt"} | {f[0] for f in map(str.split, out.splitlines()) if f[1:3] == ["required", "ii"]})


@functools.cache
def allowed_packages() -> frozenset[str]:
    """The dependency closure (Depends and Pre-Depends, every alternative) of minbase and setup.sh's lists."""
    roots = minbase_packages() + setup_packages()
    out = _run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts"]
        + ["--no-breaks", "--no-replaces", "--no-enhances", *roots]
    )
    return frozenset(
        line.split(":")[0] for line in out.splitlines() if line and not line[0].isspace() and "<" not in line
    )


def _usrmerge_twins(path: str) -> set[str]:
    """A path as dpkg may have recorded it: /lib/x and /usr/lib/x are one file on a merged /usr."""
    out = {path, os.path.realpath(path)}
    for p in list(out):
        for top in ("/lib", "/lib64", "/bin", "/sbin"):
            if p.startswith(top + "/"):
                out.add("/usr" + p)
            if p.startswith("/usr" + top + "/"):
                out.add(p[len("/usr") :])
    return out


def owners(paths: Iterable[str]) -> dict[str, set[str]]:
    """Each path's Debian packages (empty when none owns it), by one ``dpkg -S``."""
    paths = sorted(set(paths))
    twins = {p: _usrmerge_twins(p) for p in paths}
    found: dict[str, set[str]] = {}
    if paths:
        out = _run(["dpkg", "-S", *sorted(set().union(*twins.values()))], check=False)
        for line in out.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            pkgs, path = line.split(": ", 1)
            found.setdefault(path, set()).update(p.strip().split(":")[0] for p in pkgs.split(","))
    return {p: set().union(*(found.get(t, set()) for t in twins[p])) for p in paths}


@functools.cache
def _loader() -> str:
    """The dynamic loader ldd runs: tracing with it is ldd without its shell script's per-file overhead.

    (Not ``ld.so --list``: glibc 2.36's prints nothing when a library is missing, the case that matters.)
    """
    for line in _run(["ldd", os.path.realpath(sys.executable)]).splitlines():
        if "=>" not in line and line.strip().startswith("/") and "ld-linux" in line:
            return line.split()[0]
    return ""


def ldd(files: list[str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(resolved library path -> the files needing it, missing library name -> the files needing it)."""
    loader = _loader()
    trace = 'LD_TRACE_LOADED_OBJECTS=1 "$0" "$f"' if loader else 'ldd "$f"'
    script = 'for f do printf "%s:\\n" "$f"; ' + trace + " 2>/dev/null; done"
    chunks = [c for c in (files[i::2] for i in range(2)) if c]  # two cores
    procs = [
        subprocess.Popen(["sh", "-c", script, loader or "sh", *c], stdout=subprocess.PIPE, text=True) for c in chunks
    ]
    resolved: dict[str, set[str]] = {}
    missing: dict[str, set[str]] = {}
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        current = ""
        for line in out.splitlines():
            if not line.startswith("\t"):
                current = line.rstrip(":")
                continue
            name, arrow, target = line.strip().partition(" => ")
            if arrow and target.startswith("not found"):
                missing.setdefault(name, set()).add(current)
                continue
            path = (target if arrow else name).split(" (")[0]
            if path.startswith("/"):
                resolved.setdefault(path, set()).add(current)
    return resolved, missing


def _in_venv(path: str) -> bool:
    return any(Path(os.path.realpath(path)).is_relative_to(own) for own in OWN)


def _short(path: str) -> str:
    return path.replace(str(VENV), "<venv>").replace(str(REPO), "<repo>")


def assert_from_allowed_packages(needed_by: dict[str, set[str]], missing: dict[str, set[str]] | None = None) -> None:
    """Fail naming every library owned by no package, or by a package outside setup.sh's closure and minbase."""
    venv_names = {p.name for p in VENV.rglob("*.so*")} if missing else set()
    problems = [
        f"{name} is missing here (needed by {_short(min(users))})"
        for name, users in sorted((missing or {}).items())
        if name not in venv_names  # a wheel's own library, found through its RPATH at run time
    ]
    system = {p: users for p, users in needed_by.items() if not _in_venv(p)}
    allowed = allowed_packages()
    for path, pkgs in sorted(owners(system).items()):
        users = _short(min(system[path]))
        if not pkgs:
            problems.append(f"{path} belongs to no Debian package (needed by {users})")
        elif not pkgs & allowed:
            problems.append(f"{path} comes from {', '.join(sorted(pkgs))}, needed by {users}")
    assert not problems, (
        "packages a fresh Debian 12 lacks and scripts/setup.sh does not install "
        "(add them to a packages+=(…) line, then run bash scripts/setup.sh --test):\n  " + "\n  ".join(problems)
    )


def test_setup_package_lists_parse():
    names = setup_packages()
    assert {"python3", "chromium", "pulseaudio"} <= set(names), names
    assert all(PACKAGE_NAME.fullmatch(n) for n in names), names


def test_playwright_driver_libraries():
    try:
        from playwright._impl._driver import compute_driver_executable
    except ImportError:
        pytest.skip("playwright is not installed (bash scripts/setup.sh --test)")
    driver = compute_driver_executable()
    node = str(driver[0] if isinstance(driver, tuple) else driver)
    resolved, missing = ldd([node])
    assert resolved, f"ldd found no libraries for {node}"
    assert_from_allowed_packages(resolved, missing)


def test_venv_native_libraries():
    files = sorted({str(p) for p in VENV.rglob("*.so*") if p.is_file() and not p.is_symlink()})
    assert files, f"no native libraries in {VENV}"
    assert_from_allowed_packages(*ldd(files))


def test_libraries_python_loads():
    """What importing the native modules maps, dlopened libraries (PortAudio) included."""
    code = (
        "import importlib, sys\n"
        "for m in sys.argv[1:]:\n"
        "    try: importlib.import_module(m)\n"
        "    except Exception as e: print('ERROR', m, type(e).__name__, e)\n"
        "for line in open('/proc/self/maps'):\n"
        "    f = line.split(maxsplit=5)\n"
        "    if len(f) == 6 and '.so' in f[5]: print('MAP', f[5].strip())\n"
    )
    out = _run([sys.executable, "-c", code, *MODULES])
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert not errors, "native modules that cannot load here:\n" + "\n".join(errors)
    maps = {line[4:] for line in out.splitlines() if line.startswith("MAP /")}
    assert_from_allowed_packages({p: {"python -c 'import " + ", ".join(MODULES) + "'"} for p in maps})


def _tools() -> list[str]:
    """Every tool the tests and the broadcaster look up, found on this machine (the rest skip their tests)."""
    names = set(TOOLS)
    for source in [*(REPO / "tests").rglob("*.py"), *(REPO / "broadcaster").rglob("*.py")]:
        names.update(re.findall(r"\bwhich\(\s*[\"']([\w.+-]+)[\"']\s*\)", source.read_text(encoding="utf-8")))
    return sorted(found for n in names if (found := shutil.which(n)))


def _is_elf(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def test_tools_and_their_libraries():
    """Each tool from an allowed package, and the libraries of the binaries behind them (chromium's is a script)."""
    tools = [os.path.realpath(t) for t in _tools()]
    binaries = {os.path.realpath(sys.executable), *tools, *map(str, Path("/usr/lib/chromium").glob("chrom*"))}
    elf = sorted(b for b in binaries if Path(b).is_file() and _is_elf(b))
    resolved, missing = ldd(elf)
    for tool in tools:
        resolved.setdefault(tool, set()).add(tool)
    assert_from_allowed_packages(resolved, missing)
