#!/usr/bin/env bash
# Replays the build stages of infra/docker/Dockerfile.rust without Docker, to catch what
# `docker build` would hit: files missing from the .dockerignore'd context, a Cargo.lock that
# --locked rejects, cargo-chef failing on the workspace, queries needing a live database
# (SQLX_OFFLINE=true), a binary name that does not exist. Slow (a release build of every
# dependency); not part of `make test`. Run it after changing manifests or the Dockerfile.
#
#   scripts/deploy/simulate_rust_image_build.sh        (JOBS=1 and nice by default)
#
# It uses the host's toolchain rather than the rust:1-slim image, and cannot run the
# runtime stage (apt-get in debian:bookworm-slim); both are small, well-trodden steps.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/sable-image-sim.XXXXXX")}
JOBS=${JOBS:-1}
CHEF_VERSION=$(sed -n 's/.*cargo install cargo-chef --version \([0-9.]*\).*/\1/p' infra/docker/Dockerfile.rust)
log() { printf '[image-sim] %s\n' "$*"; }

log "context: copying the repository as .dockerignore filters it"
python3 - "$ROOT" "$WORK/ctx" <<'PY'
import os, shutil, sys
sys.path.insert(0, os.path.join(sys.argv[1], "scripts", "deploy"))
from check_compose_policy import _dockerignore, _ignored
root, dst = sys.argv[1], sys.argv[2]
rules = _dockerignore(open(os.path.join(root, ".dockerignore")).read())
n = 0
for d, dirs, files in os.walk(root):
    rel_d = os.path.relpath(d, root)
    dirs[:] = [x for x in dirs if not _ignored(os.path.normpath(os.path.join(rel_d, x)), rules)]
    for f in files:
        rel = os.path.normpath(os.path.join(rel_d, f))
        if _ignored(rel, rules):
            continue
        os.makedirs(os.path.join(dst, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(os.path.join(root, rel), os.path.join(dst, rel), follow_symlinks=False)
        n += 1
print(f"[image-sim] context: {n} files")
PY

if [ ! -x "$WORK/chef/bin/cargo-chef" ]; then
    log "stage chef: cargo install cargo-chef $CHEF_VERSION"
    nice -n 19 cargo install --quiet cargo-chef --version "$CHEF_VERSION" --locked --root "$WORK/chef" -j "$JOBS"
fi
export PATH="$WORK/chef/bin:$PATH"

log "stage planner: cargo chef prepare"
(cd "$WORK/ctx" && cargo chef prepare --recipe-path "$WORK/recipe.json")

log "stage builder: cargo chef cook --release --locked (dependencies only)"
mkdir -p "$WORK/build"
cp "$WORK/recipe.json" "$WORK/build/recipe.json"
start=$SECONDS
(cd "$WORK/build" && SQLX_OFFLINE=true nice -n 19 cargo chef cook --release --locked --recipe-path recipe.json -j "$JOBS" >"$WORK/cook.log" 2>&1) ||
    { tail -n 30 "$WORK/cook.log"; exit 1; }
log "dependencies built in $((SECONDS - start)) s"

log "stage builder: COPY . . && cargo build --release --locked --bins"
cp -a "$WORK/ctx/." "$WORK/build/"
start=$SECONDS
(cd "$WORK/build" && SQLX_OFFLINE=true nice -n 19 cargo build --release --locked --bins -j "$JOBS" >"$WORK/build.log" 2>&1) ||
    { tail -n 30 "$WORK/build.log"; exit 1; }
log "workspace built in $((SECONDS - start)) s"
for bin in gateway model-service worker-service; do
    f="$WORK/build/target/release/$bin"
    [ -x "$f" ] || { log "missing $bin"; exit 1; }
    "$f" --help >/dev/null || { log "$bin --help failed"; exit 1; }
    log "$bin: $(du -h "$f" | cut -f1), --help ok, needs: $(ldd "$f" | awk '{print $1}' | tr '\n' ' ')"
done
log "PASS (work dir $WORK; delete it when done)"
