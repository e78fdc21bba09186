#!/usr/bin/env bash
# Installs what detonate needs on Debian 12: apt packages and a venv in .venv.
# Idempotent and quiet when everything is already there. Needs root for apt (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv skopeo runc strace docker-registry busybox-static umoci yara
  iproute2 iptables tcpdump curl openssl apache2-utils file chromium util-linux gcc libc6-dev debootstrap
  golang-go postgresql redis-server musl-tools
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The venv is rebuilt only when pyproject.toml changed since the last install.
stamp=.venv/.detonate-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: preparing .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
    | grep -v -e '^WARNING: Location' >&2 || true
  .venv/bin/python -c "import detonate" # fail loudly if the install did not work
  echo "$want" > "$stamp"
fi
