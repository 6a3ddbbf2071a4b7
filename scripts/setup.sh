#!/usr/bin/env bash
# Set up Loa xã on Debian/Ubuntu: system packages (only those missing), a virtualenv in
# .venv, and the package itself. Safe to run again; a second run does almost nothing.
#   bash scripts/setup.sh          # to run the broadcaster
#   bash scripts/setup.sh --test   # also what the tests need (PulseAudio for a virtual sound card)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

packages=(python3 python3-venv python3-pip espeak-ng libportaudio2 libsndfile1 alsa-utils ffmpeg icecast2)
if [ "$want_test" = 1 ]; then
  # chromium + fonts-noto-core: the console's browser tests (Playwright drives Debian's Chromium)
  packages+=(pulseaudio pulseaudio-utils libasound2-plugins chromium fonts-noto-core)
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
