#!/usr/bin/env bash
# Builds the runtime image with podman and runs it, without Docker and without a registry:
#  - a Debian bookworm base image made here (debootstrap into a rootfs, `podman import`),
#  - the runtime stage of ./Dockerfile (the one description of the image; only its FROM and its
#    COPY of the binary are swapped for the local base and the release binary),
#  - checks: health, a PUT and GET of a secret, the HEALTHCHECK (`scaivault health`) inside the
#    container, the process runs as non-root, `podman stop` ends it with exit 0 within the grace
#    period, and the data survives a new container on the same volume.
# Needs root (podman as root). Installs podman, runc and debootstrap with apt when missing.
# Podman's settings live in a CONTAINERS_CONF file in a temporary folder (nothing in /etc is
# changed); images use vfs storage under $SV_PODMAN_ROOT. The debootstrap rootfs is cached in
# $SV_CACHE (delete it, or set SV_FRESH=1, to make it again).
#
#   scripts/container-test.sh            # builds the release binary if missing
#   SV_BIN=path/to/scaivault scripts/container-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

SV_CACHE=${SV_CACHE:-/var/tmp/scaivault-container-cache}
SV_PODMAN_ROOT=${SV_PODMAN_ROOT:-/var/tmp/scaivault-podman}
GRACE=40        # seconds `podman stop` waits before SIGKILL (the server drains for at most 30)
IMAGE=localhost/scaivault-test:latest
BASE=localhost/scaivault-base:bookworm

say() { echo "container-test: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = "0" ] || fail "run as root (podman runs rootful here)"

# --- tools ------------------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tmp=$(mktemp -d)
ctr=""
vol=""
cleanup() {
  if [ -n "$ctr" ]; then pm rm -f -t 0 "$ctr" >/dev/null 2>&1 || true; fi
  if [ -n "$vol" ]; then pm volume rm -f "$vol" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# (podman logs here that it has no systemd to time HEALTHCHECKs; its stderr goes to
# $tmp/podman.log, shown when a step fails.)
# Podman's settings for this machine: runc (crun fails here), cgroupfs, file events, ulimits
# no higher than the hard limits.
nofile=$(ulimit -Hn)
[ "$nofile" = "unlimited" ] && nofile=1048576
cat > "$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$tmp/containers.conf"
mkdir -p "$SV_PODMAN_ROOT"
pm() {
  podman --storage-driver vfs --root "$SV_PODMAN_ROOT/root" --runroot "$SV_PODMAN_ROOT/run" \
    --cgroup-manager cgroupfs --events-backend file "$@"
}

# --- the release binary -----------------------------------------------------------------------
bin=${SV_BIN:-}
if [ -z "$bin" ]; then
  target=${CARGO_TARGET_DIR:-target}
  bin="$target/release/scaivault"
  if [ ! -x "$bin" ]; then
    say "building the release binary (cargo build --release --locked)"
    cargo build --release --locked
  fi
fi
[ -x "$bin" ] || fail "no binary at $bin"

# --- the base image ---------------------------------------------------------------------------
mirror=${DEBOOTSTRAP_MIRROR:-}
if [ -z "$mirror" ]; then
  # The machine's own Debian mirror (deb822 or one-line sources).
  mirror=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1 || true)
fi
rootfs_tar="$SV_CACHE/bookworm-rootfs.tar"
if [ "${SV_FRESH:-0}" = "1" ]; then
  rm -f "$rootfs_tar"
  pm rmi -f "$BASE" >/dev/null 2>&1 || true
fi
if ! pm image exists "$BASE"; then
  if [ ! -s "$rootfs_tar" ]; then
    [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt; set DEBOOTSTRAP_MIRROR"
    say "debootstrap bookworm (minbase) into a rootfs"
    mkdir -p "$SV_CACHE"
    debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 \
      || { tail -n 20 "$tmp/debootstrap.log" >&2; fail "debootstrap failed"; }
    # What a slim image leaves out: package lists and caches.
    rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin
    tar -C "$tmp/rootfs" -cf "$rootfs_tar.part" . && mv "$rootfs_tar.part" "$rootfs_tar"
    rm -rf "$tmp/rootfs"
  fi
  say "importing the base image"
  pm import "$rootfs_tar" "$BASE" >/dev/null
fi

# --- the image: ./Dockerfile's runtime stage on that base -------------------------------------
ctx="$tmp/ctx"
mkdir -p "$ctx"
cp "$bin" "$ctx/scaivault"
# Everything from the second FROM on, with the base and the binary's source swapped.
awk -v base="$BASE" '
  /^FROM / { stage++; if (stage == 2) { print "FROM " base; next } }
  stage >= 2 && /^COPY --from=build / { print "COPY scaivault /usr/local/bin/scaivault"; next }
  stage >= 2 { print }
' Dockerfile > "$ctx/Containerfile"
grep -q '^COPY scaivault /usr/local/bin/scaivault$' "$ctx/Containerfile" \
  || fail "the Dockerfile's runtime stage no longer copies the binary from the build stage"
say "building $IMAGE from the Dockerfile's runtime stage"
pm build --format docker --network none --pull=never -f "$ctx/Containerfile" -t "$IMAGE" "$ctx" \
  >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "image build failed"; }

# --- run it -----------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 18210)
base_url="http://127.0.0.1:$port"
token="skt_ct_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
head -c 32 /dev/urandom | base64 > "$tmp/master.key"
chmod 0644 "$tmp/master.key"   # read by the container's user 10001
vol="scaivault-ct-$$"
pm volume create "$vol" >/dev/null

run_container() {
  # No systemd here to time the HEALTHCHECK: it is run by hand below (`podman healthcheck run`).
  pm run -d --name "scaivault-ct-$$" --network host --health-interval disable -v "$vol:/data" \
    -v "$tmp/master.key:/run/secrets/master.key:ro" \
    -e SCAIVAULT_LISTEN="127.0.0.1:$port" \
    -e SCAIVAULT_MASTER_KEY_FILE=/run/secrets/master.key \
    -e SCAIVAULT_ROOT_TOKEN="$token" \
    "$IMAGE" >/dev/null 2>>"$tmp/podman.log" || { cat "$tmp/podman.log" >&2; fail "podman run"; }
  ctr="scaivault-ct-$$"
}

wait_ready() {
  local deadline=$(( $(date +%s) + 60 ))
  until curl -fsS "$base_url/v1/health/ready" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then pm logs "$ctr" >&2 || true; fail "not ready within 60 s"; fi
    if [ "$(pm inspect -f '{{.State.Running}}' "$ctr")" != "true" ]; then pm logs "$ctr" >&2 || true; fail "the container exited"; fi
    sleep 0.2
  done
}

api() { curl -fsS -H "Authorization: Bearer $token" "$@"; }

run_container
wait_ready
say "ok: health"

api -X PUT -H 'Content-Type: application/json' -d '{"data":{"password":"kept-across-restarts"}}' \
  "$base_url/v1/secrets/ct/db" >/dev/null || fail "PUT of a secret"
[ "$(api "$base_url/v1/secrets/ct/db" | jq -r .data.password)" = "kept-across-restarts" ] || fail "GET of the secret"
say "ok: PUT and GET of a secret"

# Fails too when the image has no HEALTHCHECK (one built without --format docker).
pm healthcheck run "$ctr" >"$tmp/health.log" 2>&1 \
  || { cat "$tmp/health.log" >&2; fail "the HEALTHCHECK (scaivault health) failed inside the container"; }
say "ok: HEALTHCHECK inside the container"

uid=$(pm exec "$ctr" sh -c 'grep ^Uid: /proc/1/status' | awk '{print $2}')
[ "$uid" = "10001" ] || fail "the server runs as uid $uid, not 10001"
say "ok: runs as uid 10001"

t0=$(date +%s)
pm stop -t "$GRACE" "$ctr" >/dev/null 2>>"$tmp/podman.log"
took=$(( $(date +%s) - t0 ))
code=$(pm inspect -f '{{.State.ExitCode}}' "$ctr")
[ "$code" = "0" ] || { pm logs "$ctr" | tail -n 20 >&2; fail "podman stop: exit code $code"; }
[ "$took" -lt "$GRACE" ] || fail "podman stop took ${took}s (grace ${GRACE}s)"
say "ok: podman stop -> exit 0 in ${took}s"

pm rm -f "$ctr" >/dev/null 2>>"$tmp/podman.log"
ctr=""
run_container
wait_ready
[ "$(api "$base_url/v1/secrets/ct/db" | jq -r .data.password)" = "kept-across-restarts" ] \
  || fail "the secret did not survive a new container on the volume"
say "ok: data survives a new container on the volume"
pm stop -t "$GRACE" "$ctr" >/dev/null 2>>"$tmp/podman.log"

say "passed in $(( $(date +%s) - started ))s"
