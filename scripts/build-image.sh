#!/usr/bin/env bash
# Builds the Docker image from the unmodified Dockerfile with Debian's buildah: no Docker engine,
# no daemon, no image registry.
#
#   scripts/build-image.sh [IMAGE]        default IMAGE: localhost/initscope:latest
#
# Where the Dockerfile's base image (FROM) is not in buildah's local storage and no registry can be
# reached, the script first makes a stand-in for it: a Debian root filesystem from debootstrap
# (same Debian release and Python minor version as the real python:3.11-slim-bookworm), with
# `python` and `pip` under /usr/local/bin, imported under the base image's name. The build then runs
# with --pull-never. Everything host-specific (the Debian mirror, extra CA certificates, the package
# index pip uses) is read from this machine at run time and goes only into that local stand-in.
#
# Settings (environment variables):
#   INITSCOPE_IMAGE_CACHE     where the debootstrapped root filesystem is cached
#                             (default /var/tmp/initscope-image: it outlives fresh clones)
#   INITSCOPE_DEBIAN_MIRROR   Debian mirror for debootstrap (default: the one apt uses here)
#   INITSCOPE_STANDIN_SUITE   Debian release of the stand-in (default bookworm)
#   INITSCOPE_REFRESH_BASE=1  rebuild the stand-in even if an image of that name is stored
#   INITSCOPE_PULL_BASE=1     pull the real base image from its registry instead of making a stand-in
#
# Run the result:  ctr=$(buildah from IMAGE); buildah run --isolation chroot "$ctr" -- CMD
# (chroot isolation shares the host's network: nothing else may listen on port 8000.)
set -euo pipefail
cd "$(dirname "$0")/.."

image="${1:-localhost/initscope:latest}"
cache="${INITSCOPE_IMAGE_CACHE:-/var/tmp/initscope-image}"
suite="${INITSCOPE_STANDIN_SUITE:-bookworm}"
# Bump when the stand-in's recipe changes, so stored stand-ins made by an older recipe are rebuilt.
standin_recipe=1
# The `oci` and `rootless` isolations fail on kernels with hybrid cgroups; chroot works as root.
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v buildah >/dev/null || die "buildah is not installed (bash scripts/install-system-deps.sh)"

# The Dockerfile's base image, fully qualified the way buildah stores it.
base_image() {
  local ref
  ref=$(awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }' Dockerfile)
  [ -n "$ref" ] || die "no FROM line in Dockerfile"
  case "$ref" in
    */*) ;;
    *) ref="library/$ref" ;;
  esac
  local first="${ref%%/*}"
  case "$first" in
    *.* | *:* | localhost) ;;
    *) ref="docker.io/$ref" ;;
  esac
  case "${ref##*/}" in
    *:* | *@*) ;;
    *) ref="$ref:latest" ;;
  esac
  printf '%s\n' "$ref"
}

# "URI SUITE" for every enabled `deb` source of apt, one-line (.list) and deb822 (.sources) files alike.
apt_sources() {
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  local f
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk '
    function flush(   n, m, i, j, u, s) {
      if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) !~ /^(no|false)$/) {
        n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
        for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) if (u[i] != "" && s[j] != "") print u[i], s[j]
      }
      types = uris = suites = enabled = ""
    }
    FNR == 1 { flush() }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*#/) next
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      key = tolower($1); value = $0; sub(/^[^:]*:[ \t]*/, "", value)
      if (key == "types:") types = value
      else if (key == "uris:") uris = value
      else if (key == "suites:") suites = value
      else if (key == "enabled:") enabled = value
      next
    }
    {
      line = $0; sub(/#.*/, "", line); gsub(/\[[^]]*\]/, " ", line)
      n = split(line, w, /[ \t]+/); k = 0
      for (i = 1; i <= n; i++) if (w[i] != "") v[++k] = w[i]
      if (k >= 3 && v[1] == "deb") print v[2], v[3]
    }
    END { flush() }
  ' "${files[@]}"
}

# The Debian mirror this machine's apt uses: the source of the stand-in's suite, else the first main
# Debian archive listed.
debian_mirror() {
  if [ -n "${INITSCOPE_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$INITSCOPE_DEBIAN_MIRROR"
    return
  fi
  local sources mirror
  sources=$(apt_sources | awk '$1 ~ /^(https?|file):\/\//')
  mirror=$(awk -v want="$suite" '$2 == want { print $1; exit }' <<<"$sources")
  [ -n "$mirror" ] || mirror=$(awk '$2 !~ /-/ && $1 ~ /\/debian\/?$/ { print $1; exit }' <<<"$sources")
  [ -n "$mirror" ] || die "no Debian mirror in apt's sources; set INITSCOPE_DEBIAN_MIRROR"
  printf '%s\n' "$mirror"
}

# The host pip's effective settings as `key value` lines (configuration files and PIP_* variables).
host_pip_config() {
  local pip
  for pip in "python3 -m pip" pip3 pip; do
    if $pip --version >/dev/null 2>&1; then
      $pip config list 2>/dev/null | sed -E "s/^[^.]*\.([^=]+)='?(.*[^'])'?$/\1 \2/" || true
      return
    fi
  done
}

# A pip.conf for the stand-in: the host's package index (http(s) URLs only: local paths do not exist
# inside the container) and the container's own CA bundle.
standin_pip_conf() {
  local config index="" extra="" trusted="" timeout="" retries="" key value url
  config=$(host_pip_config)
  while read -r key value; do
    case "$key" in
      index-url | extra-index-url)
        for url in $value; do
          case "$url" in
            http://* | https://*)
              if [ "$key" = index-url ]; then index="$url"; else extra="$extra $url"; fi
              ;;
          esac
        done
        ;;
      trusted-host) trusted="$trusted $value" ;;
      timeout | default-timeout) timeout="$value" ;;
      retries) retries="$value" ;;
    esac
  done <<<"$config"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n'
  [ -z "$index" ] || printf 'index-url = %s\n' "$index"
  [ -z "$extra" ] || printf 'extra-index-url =%s\n' "$extra"
  [ -z "$trusted" ] || printf 'trusted-host =%s\n' "$trusted"
  [ -z "$timeout" ] || printf 'timeout = %s\n' "$timeout"
  [ -z "$retries" ] || printf 'retries = %s\n' "$retries"
}

# The debootstrapped root filesystem as a tarball, made once and cached.
standin_rootfs() {
  local tarball arch
  arch=$(dpkg --print-architecture)
  tarball="$cache/standin-$suite-$arch.tar"
  if [ -s "$tarball" ]; then
    printf '%s\n' "$tarball"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (bash scripts/install-system-deps.sh)"
  local mirror rootfs
  mirror=$(debian_mirror)
  rootfs="$cache/rootfs.$$"
  rm -rf "$rootfs"
  log "debootstrap $suite from $mirror (about a minute, once)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; rm -rf "$rootfs"; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  printf '%s\n' "$tarball"
}

# Imports the root filesystem as an image named like the Dockerfile's base.
work_ctr=""
work_tmp=""
cleanup() {
  [ -z "$work_ctr" ] || buildah rm "$work_ctr" >/dev/null 2>&1 || true
  [ -z "$work_tmp" ] || rm -rf "$work_tmp"
}
trap cleanup EXIT

make_standin() {
  local name="$1" tarball
  tarball=$(standin_rootfs)
  log "importing the stand-in base image $name"
  work_tmp=$(mktemp -d)
  work_ctr=$(buildah from --quiet scratch)
  buildah add --quiet "$work_ctr" "$tarball" / >/dev/null
  # python and pip where the official image has them; pip may install system-wide, as there.
  # shellcheck disable=SC2016 # expanded inside the container
  buildah run "$work_ctr" -- sh -c 'for p in python python3; do ln -sf /usr/bin/python3 /usr/local/bin/$p; done
    for p in pip pip3; do ln -sf /usr/bin/pip3 /usr/local/bin/$p; done
    rm -f /usr/lib/python3*/EXTERNALLY-MANAGED'
  # Trust this machine's extra CA certificates (a TLS-inspecting proxy's, say) inside the stand-in.
  mkdir "$work_tmp/ca"
  if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
    cp -rL /usr/local/share/ca-certificates/. "$work_tmp/ca/"
  fi
  local pip_cert # a CA bundle of its own that the host's pip is told to use
  pip_cert=$(host_pip_config | awk '$1 == "cert" { c = $2 } END { print c }')
  if [ -f "$pip_cert" ] && ! [ "$pip_cert" -ef /etc/ssl/certs/ca-certificates.crt ]; then
    cp "$pip_cert" "$work_tmp/ca/host-pip-cert.crt"
  fi
  buildah copy --quiet "$work_ctr" "$work_tmp/ca" /usr/local/share/ca-certificates >/dev/null
  buildah run "$work_ctr" -- update-ca-certificates >/dev/null
  # Reach the package index this machine's pip uses.
  standin_pip_conf >"$work_tmp/pip.conf"
  buildah copy --quiet "$work_ctr" "$work_tmp/pip.conf" /etc/pip.conf >/dev/null
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd python3 \
    --label io.initscope.standin="$standin_recipe" \
    "$work_ctr"
  buildah commit --quiet --rm "$work_ctr" "$name" >/dev/null
  work_ctr=""
}

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9 # one build at a time on this machine

base=$(base_image)
stored_recipe=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "io.initscope.standin"}}' \
  "$base" 2>/dev/null) || stored_recipe="absent"
if [ "$stored_recipe" = absent ] && [ "${INITSCOPE_PULL_BASE:-0}" = 1 ]; then
  log "pulling $base"
  buildah pull --quiet "$base" >/dev/null
elif [ "$stored_recipe" = absent ] || [ "${INITSCOPE_REFRESH_BASE:-0}" = 1 ] \
  || { [ -n "$stored_recipe" ] && [ "$stored_recipe" != "$standin_recipe" ]; }; then
  old_base=$(buildah images --quiet --no-trunc "$base" 2>/dev/null || true)
  make_standin "$base"
  [ -z "$old_base" ] || buildah rmi "$old_base" >/dev/null 2>&1 || true
  log "stand-in base image ready after ${SECONDS}s"
elif [ -n "$stored_recipe" ]; then
  log "using the stored stand-in for $base"
else
  log "using the stored image $base"
fi

log "building $image"
old_image=$(buildah images --quiet --no-trunc "$image" 2>/dev/null || true)
buildah bud --pull-never --layers --format docker --tag "$image" . >&2
new_image=$(buildah images --quiet --no-trunc "$image")
# The image this tag named before is garbage now (unless something still uses it).
if [ -n "$old_image" ] && [ "$old_image" != "$new_image" ]; then
  buildah rmi "$old_image" >/dev/null 2>&1 || true
fi
log "built $image in ${SECONDS}s"
buildah images "$image" >&2
