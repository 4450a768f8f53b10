#!/usr/bin/env bash
# Build the tensiond container image with podman, with no image registry: the base image is a
# minimal Debian made here with debootstrap and imported into podman, and pip inside the build
# reads the same package sources as pip on this host.
#
#   packaging/container/build.sh [--committed] [--rebuild-base] [--no-cache]
#
#   --committed     build the committed tree (git archive HEAD) instead of the work tree, with the
#                   work tree's Dockerfile and .dockerignore: others' unfinished edits stay out
#   --rebuild-base  make the Debian base image again (it is kept otherwise)
#   --no-cache      rebuild every layer of the tensiond image
#
# Idempotent: the base image is made only when it is missing (or with --rebuild-base), and the
# tensiond image is rebuilt from podman's layer cache, so a second run with no change takes seconds.
# The last lines it prints are "result: key=value" (what was done, the size, the times).
#
# Settings (environment):
#   IMAGE                     the image to build           (default tensiond:local)
#   BASE_IMAGE                the Debian base image         (default tensiond-base:bookworm)
#   DEBIAN_MIRROR             where debootstrap and apt read Debian (default: this host's apt source)
#   TENSIOND_CONTAINER_CACHE  scratch folder for the rootfs (default /var/tmp/tensiond-container)
#   TENSIOND_INSTALL_TOOLS=0  never apt-get install podman, runc, debootstrap (default: when missing)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${IMAGE:-tensiond:local}
BASE_IMAGE=${BASE_IMAGE:-tensiond-base:bookworm}
# bookworm, not trixie: its python3 is 3.11, the only Python that the torch 2.13.0 CPU wheel on
# this machine's disk is built for (cp311); trixie's 3.13 would make pip fetch a CUDA build.
SUITE=bookworm
CACHE=${TENSIOND_CONTAINER_CACHE:-/var/tmp/tensiond-container}
export CONTAINERS_CONF="$HERE/containers.conf"

REBUILD_BASE=0
COMMITTED=0
NO_CACHE=()
for argument in "$@"; do
  case "$argument" in
    --committed) COMMITTED=1 ;;
    --rebuild-base) REBUILD_BASE=1 ;;
    --no-cache) NO_CACHE=(--no-cache) ;;
    -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $argument" >&2; exit 2 ;;
  esac
done

say() { printf '[build] %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- tools -------------------------------------------------------------------------------------
missing=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  if [[ ${TENSIOND_INSTALL_TOOLS:-1} == 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing with apt-get: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
  else
    echo "build.sh: missing ${missing[*]} (apt-get install podman runc debootstrap)" >&2
    exit 1
  fi
fi
say "podman $(podman version --format '{{.Client.Version}}'), runtime $(runc --version | head -n1)"

# --- the base image: minimal Debian with Python 3.11 ---------------------------------------------
# This host's Debian source (deb822 "URIs:" or one-line "deb URL"), else deb.debian.org.
host_mirror() {
  local files=(/etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list)
  { grep -h -E '^URIs:' "${files[@]}" 2>/dev/null | awk '{print $2}' || true
    grep -h -E '^deb ' "${files[@]}" 2>/dev/null | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break }}' || true
  } | grep -v -E 'security' | head -n1 || true
}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${MIRROR%/debian}/debian-security

base_made=no
base_seconds=0
if [[ $REBUILD_BASE == 0 ]] && podman image exists "$BASE_IMAGE"; then
  say "base image $BASE_IMAGE exists: kept (--rebuild-base makes it again)"
else
  start=$(now)
  rootfs="$CACHE/rootfs-$SUITE"
  say "making $BASE_IMAGE: debootstrap --variant=minbase $SUITE from $MIRROR into $rootfs"
  mkdir -p "$CACHE"
  rm -rf "$rootfs"
  # python3-venv for the build stage, ca-certificates for pip, tini as PID 1 (signals, zombies).
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tini \
    "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -f "$rootfs/etc/apt/sources.list"
  say "applying $SUITE-updates and $SUITE-security"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get -y -q upgrade && apt-get clean' >>"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
  # What a container needs no copy of: apt's lists and caches, manuals, docs (copyrights kept),
  # logs, and the host's resolver and name (podman writes its own).
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/* \
    "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  : >"$rootfs/etc/machine-id"
  python_version=$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
  tar --numeric-owner -C "$rootfs" -c . | podman import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.title=tensiond-base org.opencontainers.image.description=\"Debian $SUITE minbase with Python $python_version, made by debootstrap\" org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --message "debootstrap --variant=minbase $SUITE $MIRROR" \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  base_made=yes
  base_seconds=$(elapsed "$start")
  say "base image $BASE_IMAGE made in ${base_seconds}s (Python $python_version)"
fi

# --- the package sources pip uses on this host ---------------------------------------------------
# Each setting from the environment (PIP_*) or pip's own config, passed to the build as a build
# argument; every local folder they name (find-links folders, file:// indexes with the files they
# link to) is mounted read-only at the same path, and the build uses the host's network for PyPI.
HOST_PYTHON=${HOST_PYTHON:-python3}
pip_setting() {
  local name
  name="PIP_$(tr 'a-z-' 'A-Z_' <<<"$1")"
  if [[ -n ${!name:-} ]]; then printf '%s' "${!name}"; return; fi
  "$HOST_PYTHON" -m pip config get "global.$1" 2>/dev/null || true
}
build_args=()
mounts=()
declare -A mounted=()
mount_ro() {
  local folder=$1
  [[ -d $folder && -z ${mounted[$folder]:-} ]] || return 0
  mounted[$folder]=1
  mounts+=(--volume "$folder:$folder:ro")
}
for option in index-url extra-index-url find-links trusted-host; do
  value=$(pip_setting "$option" | tr '\n' ' ' | xargs || true)
  [[ -n $value ]] || continue
  build_args+=(--build-arg "PIP_$(tr 'a-z-' 'A-Z_' <<<"$option")=$value")
  [[ $option == trusted-host ]] && continue
  for location in $value; do
    case "$location" in
      file://*) path=${location#file://} ;;
      /*) path=$location ;;
      *) continue ;;
    esac
    path=${path%/}
    if [[ $option == find-links ]]; then
      mount_ro "$path"
    else
      mount_ro "$(dirname "$path")"   # a simple index links to ../../files beside it
    fi
  done
done
cert=$(pip_setting cert)
if [[ -n $cert && -f $cert ]]; then
  mounts+=(--volume "$cert:/run/pip-host-ca.pem:ro")
  build_args+=(--build-arg PIP_CERT=/run/pip-host-ca.pem)
fi
for arg in "${build_args[@]}"; do
  [[ $arg == --build-arg ]] || say "pip setting: $arg"
done

# --- the tensiond image --------------------------------------------------------------------------
revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
CONTEXT=$ROOT
if [[ $COMMITTED == 1 ]]; then
  CONTEXT="$CACHE/context"
  rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
  git -C "$ROOT" archive HEAD | tar -x -C "$CONTEXT"
  cp "$ROOT/Dockerfile" "$ROOT/.dockerignore" "$CONTEXT/"
  say "context: the committed tree at $revision (git archive) in $CONTEXT, with this Dockerfile"
elif [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -n1) ]]; then
  revision="$revision-dirty"
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$CONTEXT/pyproject.toml" | head -n1)
say "building $IMAGE (tensiond $version, revision $revision) from $CONTEXT"
start=$(now)
# --format docker: the OCI image format has no HEALTHCHECK, podman would drop it.
podman build "${NO_CACHE[@]}" \
  --format docker \
  --network host \
  "${mounts[@]}" \
  --build-arg "BASE=$BASE_IMAGE" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  "${build_args[@]}" \
  --tag "$IMAGE" \
  --file "$CONTEXT/Dockerfile" \
  "$CONTEXT"
build_seconds=$(elapsed "$start")

size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_bytes=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
health=$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE")
# Earlier builds stay as untagged images: they hold the layer cache that makes the next build
# fast. `podman image prune` frees their space when wanted.
say "built $IMAGE in ${build_seconds}s: $((size_bytes / 1000000)) MB (base $((base_bytes / 1000000)) MB), user $user, healthcheck $health"
echo "result: image=$IMAGE"
echo "result: base_image=$BASE_IMAGE base_made=$base_made base_seconds=$base_seconds"
echo "result: build_seconds=$build_seconds"
echo "result: size_bytes=$size_bytes size_mb=$((size_bytes / 1000000)) base_size_mb=$((base_bytes / 1000000))"
echo "result: user=$user"
echo "result: healthcheck=$health"
