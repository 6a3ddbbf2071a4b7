#!/usr/bin/env bash
# Set up Loa xã on Debian/Ubuntu: system packages (only those missing), a virtualenv in
# .venv, and the package itself. Safe to run again; a second run does almost nothing.
#   bash scripts/setup.sh          # to run the broadcaster
#   bash scripts/setup.sh --test   # also what the tests need (PulseAudio for a virtual sound card)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# One array line per purpose, package names only: tests/test_system_packages.py reads these lines and
# checks that every native library the tests load comes from them (or their dependencies) or from a
# minimal Debian (scripts/minbase-check.sh runs the whole suite in one).
packages=(python3 python3-venv python3-pip)     # Python and its virtualenv
packages+=(espeak-ng)                           # the offline voice
packages+=(libportaudio2 libsndfile1 alsa-utils) # the sound card (sounddevice, soundfile; ALSA tools)
packages+=(ffmpeg)                              # audio files libsndfile cannot decode (MP3, M4A…)
packages+=(icecast2)                            # the zones' streaming server
if [ "$want_test" = 1 ]; then
  packages+=(pulseaudio pulseaudio-utils libasound2-plugins) # a virtual sound card (null sink)
  packages+=(chromium fonts-noto-core)          # the console's browser tests (Playwright drives Debian's Chromium)
  # Playwright's bundled node (its driver, outside any Debian package) links libatomic.so.1, which no
  # package above depends on and a minimal Debian 12 lacks: without it every browser test errors.
  packages+=(libatomic1)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Cài gói hệ thống còn thiếu: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "Tạo môi trường Python (.venv)…"
  python3 -m venv .venv
fi
stamp=.venv/.installed-$([ "$want_test" = 1 ] && echo test || echo run)
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Cài thư viện Python…"
  # editable_mode=compat: a plain .pth path, no import hook — `broadcaster say` starts ~15 ms sooner
  # PYTHONWARNINGS: setuptools' editable-install notice is for developers, not operators
  export PYTHONWARNINGS=ignore
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$want_test" = 1 ]; then
    .venv/bin/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
  else
    .venv/bin/python -m pip install -q -e . --config-settings editable_mode=compat
  fi
  touch "$stamp"
fi
