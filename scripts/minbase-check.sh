#!/usr/bin/env bash
# Run the README's test command (bash scripts/test.sh) in a minimal Debian 12 root, on a clean clone of
# HEAD, to catch what setup.sh forgets to install because the machines we work on happen to have it.
#   bash scripts/minbase-check.sh                # as root; 20–40 minutes
#   bash scripts/minbase-check.sh -k console -x  # extra arguments go to pytest
# The root is `debootstrap --variant=minbase bookworm` (Priority required, and apt) plus MINBASE_EXTRA,
# what a user has before `git clone` (default: git ca-certificates). No python3: setup.sh installs it.
# Environment: MINBASE_DIR (default /tmp/loa-xa-minbase, never inside the repository), MINBASE_MIRROR
# (default: the Debian mirror this machine's apt uses), MINBASE_EXTRA. Debs are cached in MINBASE_DIR
# between runs; the root itself is made afresh each run and left there for a look until the next one.
# Prints where the log is; exits with the suite's status.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
base=$(realpath -m "${MINBASE_DIR:-/tmp/loa-xa-minbase}")
root=$base/root
log=$base/minbase-check.log
extra=${MINBASE_EXTRA:-git ca-certificates}
suite=bookworm

if [ "$(id -u)" -ne 0 ]; then
  echo "Cần quyền root (debootstrap, mount, chroot): sudo bash scripts/minbase-check.sh" >&2
  exit 2
fi
case "$base/" in "$repo"/*)
  echo "MINBASE_DIR ($base) không được nằm trong thư mục mã nguồn ($repo)" >&2
  exit 2
  ;;
esac
mkdir -p "$base/debs" "$base/apt-archives/partial"
exec 9>"$base/lock"
flock -n 9 || { echo "Một lần kiểm tra khác đang chạy trong $base" >&2; exit 2; }
: >"$log"
exec > >(tee -a "$log") 2>&1
echo "Nhật ký: $log"

# --- the mirrors this machine's apt uses (deb822 .sources and one-line .list files) ---
suite_uri() { # the first URI serving suite $1, or nothing
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$1" 'BEGIN { RS = ""; FS = "\n" } {
      uris = ""; hit = 0; deb = 0; off = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^#/) continue
        split($i, kv, ":[ \t]*"); key = tolower(kv[1]); val = substr($i, length(kv[1]) + 2)
        n = split(val, words, /[ \t]+/)
        for (j = 1; j <= n; j++) {
          if (key == "suites" && words[j] == want) hit = 1
          if (key == "types" && words[j] == "deb") deb = 1
          if (key == "uris" && uris == "" && words[j] != "") uris = words[j]
          if (key == "enabled" && words[j] == "no") off = 1
        }
      }
      if (hit && deb && !off && uris != "") { print uris; exit }
    }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v want="$1" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ } if ($(i + 1) == want) print $i }'
}
mirror=${MINBASE_MIRROR:-$(suite_uri "$suite" | head -n1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
security=$(suite_uri "$suite-security" | head -n1 || true)
security=${security:-http://deb.debian.org/debian-security}
echo "Máy chủ gói: $mirror (bảo mật: $security)"

# --- mounts, and what runs in the root, end with this script ---
mounts=()
cleanup() {
  local pid m i
  for pid in /proc/[0-9]*; do # processes left in the root (pulseaudio, icecast2…): only ours live there
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "${pid#/proc/}" 2>/dev/null
  done
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "Không tháo được $m" >&2
  done
  mounts=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bind() { # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mounts+=("$2")
  [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2"
  return 0
}

# --- a fresh minimal root ---
if [ -e "$root" ]; then
  if grep -q " $root[/ ]" /proc/mounts; then
    echo "Còn thư mục gắn trong $root từ lần trước; tháo rồi chạy lại: grep $root /proc/mounts" >&2
    exit 2
  fi
  rm -rf --one-file-system "$root"
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
started=$SECONDS
echo "Tạo hệ Debian tối thiểu ($suite, minbase) trong $root…"
debootstrap --variant=minbase --cache-dir="$base/debs" "$suite" "$root" "$mirror" >"$base/debootstrap.log" 2>&1 ||
  { tail -n 30 "$base/debootstrap.log"; exit 1; }
echo "debootstrap: $((SECONDS - started)) s"

# What a fresh install has: main, updates, security; services not started inside the root.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt-config dump | grep -iE '^Acquire::(http|https)::Proxy ' >"$root/etc/apt/apt.conf.d/01proxy" || rm -f "$root/etc/apt/apt.conf.d/01proxy"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

mount -t proc proc "$root/proc" && mounts+=("$root/proc")
bind /sys "$root/sys"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
bind /dev/shm "$root/dev/shm"
bind "$base/apt-archives" "$root/var/cache/apt/archives"

# The root's environment: a login's, plus this machine's pip, proxy and TLS settings (it may use a local index).
envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM="${TERM:-dumb}")
passed='PIP_[A-Z_]+|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE'
while IFS= read -r kv; do envs+=("$kv"); done < <(env | grep -E "^($passed)=" || true)
in_root() { chroot "$root" /usr/bin/env -i "${envs[@]}" "$@"; }

# This machine's own certificate authorities (a TLS-inspecting proxy's, say): ca-certificates adds them.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -rL /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
in_root apt-get update -qq
# shellcheck disable=SC2086  # a list of package names
in_root DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $extra >/dev/null
echo "Đã có sẵn như máy mới: $extra"

pip_files=(/etc/pip.conf /etc/xdg/pip "$HOME/.config/pip" "$HOME/.pip")
for f in "${pip_files[@]}"; do
  [ -e "$f" ] || continue
  dest=$root${f/#$HOME//root}
  mkdir -p "$(dirname "$dest")" && cp -rL "$f" "$dest"
done
# Local paths the pip settings name (file:// indexes, find-links, constraints): the same paths, read-only
# (an index's parent: its pages link ../../files/…).
pip_confs=$(find "${pip_files[@]}" -maxdepth 1 -type f -name '*.conf' 2>/dev/null || true)
# shellcheck disable=SC2086  # file names without spaces
for p in $( (cat $pip_confs /dev/null | sed -n 's/^[^#=]*=//p'; env | sed -n 's/^PIP_[A-Z_]*=//p') |
  tr ' ,' '\n\n' | sed -n 's#^\(file://\)\{0,1\}\(/.*\)#\2#p' | sed 's#/simple/\{0,1\}$##' | sort -u); do
  [ -e "$p" ] && [ ! -e "$root$p" ] || continue
  if [ -d "$p" ]; then bind "$p" "$root$p" ro; else mkdir -p "$(dirname "$root$p")" && cp -L "$p" "$root$p"; fi
done

git clone -q "$repo" "$root/root/loa-xa"
echo "Mã nguồn: $(git -C "$root/root/loa-xa" log -1 --format='%h %<(90,trunc)%s' | sed 's/ *$//')"

started=$SECONDS
set +e
in_root bash -c 'cd /root/loa-xa && bash scripts/setup.sh --test'
status=$?
echo "setup.sh --test: $((SECONDS - started)) s, mã thoát $status"
if [ "$status" -eq 0 ]; then
  started=$SECONDS
  in_root bash -c 'cd /root/loa-xa && exec bash scripts/test.sh "$@"' test.sh "$@"
  status=$?
  echo "test.sh: $((SECONDS - started)) s, mã thoát $status"
fi
set -e
echo "Nhật ký: $log (hệ tối thiểu để xem lại: $root)"
exit "$status"
