#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, once: Chromium for the browser tests; curl for
# the README's curl examples (tests/test_readme.py); buildah,
# debootstrap and fuse-overlayfs to build and run the Docker image without a Docker engine (iproute2
# gives that container a loopback-only network); Node.js, unless a `node` is there already, for the
# pages' JavaScript unit tests (node --test). Arguments install just those packages instead.
set -euo pipefail
packages=(chromium curl buildah debootstrap debian-archive-keyring fuse-overlayfs iproute2)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
[ $# -eq 0 ] || packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
