#!/usr/bin/env bash
# Issue 22: the model service against an OpenAI-compatible server nobody here wrote. The
# LiteLLM proxy (PyPI `litellm[proxy]`, in .data/venv-litellm) serves a `mock_response` model;
# a providers file makes it provider `litellm` (next to the mock), and the model service's
# /inference (whole answer), /inference/stream (SSE) and OpenAI passthrough (stream) must answer
# with LiteLLM's text. Bounded: LiteLLM gets LITELLM_START_SECS to come up, each call 30 s.
#   SKIP_CARGO_BUILD=1   use the existing target/debug/model-service
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
step() { printf '\033[1m==> [litellm] %s\033[0m\n' "$*"; }

VENV=.data/venv-litellm
if ! "$VENV/bin/litellm" --version >/dev/null 2>&1; then
  step "installing litellm[proxy] (PyPI) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'litellm[proxy]==1.108.7'
fi
[ "${SKIP_CARGO_BUILD:-0}" = 1 ] || cargo build -q -p model-service --bin model-service
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

BASE=${LITELLM_PORT_BASE:-18350}
OUT="$ROOT/target/litellm"
rm -rf "$OUT"; mkdir -p "$OUT"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$rc" = 0 ] || { echo "[litellm] failed; logs in $OUT" >&2; tail -n 30 "$OUT"/*.log >&2 || true; }
  exit "$rc"
}
trap cleanup EXIT INT TERM
wait_up() { # url seconds
  for _ in $(seq 1 "$2"); do curl -fsS --max-time 1 "$1" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "$1 did not come up within $2 s" >&2; return 1
}

cat >"$OUT/litellm.yaml" <<'YAML'
model_list:
  - model_name: mocked
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: sk-not-used
      mock_response: "Hello from LiteLLM"
YAML
export SABLE_LITELLM_KEY="sk-litellm-test-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
step "starting the LiteLLM proxy on 127.0.0.1:$BASE"
# No DATABASE_URL: `make test` exports Sable's, and LiteLLM would take it as its own database
# (it then needs prisma, which the proxy extra does not install, and exits).
env -u DATABASE_URL LITELLM_MASTER_KEY="$SABLE_LITELLM_KEY" LITELLM_LOCAL_MODEL_COST_MAP=True NO_DOCS=True \
  "$VENV/bin/litellm" --config "$OUT/litellm.yaml" --host 127.0.0.1 --port "$BASE" >"$OUT/litellm.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$BASE/health/liveliness" "${LITELLM_START_SECS:-240}"

cat >"$OUT/providers.toml" <<TOML
[[providers]]
name = "local"
kind = "mock"
[[providers.models]]
id = "echo"

[[providers]]
name = "litellm"
base_url = "http://127.0.0.1:$BASE/v1"
api_key_env = "SABLE_LITELLM_KEY"
[[providers.models]]
id = "mocked"
capabilities = ["chat"]
price_input_per_mtok = 1.0
price_output_per_mtok = 2.0

[aliases]
default = "litellm/mocked"
TOML
MODEL_SERVICE_ADDR=127.0.0.1:$((BASE+1)) PROVIDERS_FILE="$OUT/providers.toml" RUST_LOG=warn \
  "$BIN/model-service" >"$OUT/model.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$((BASE+1))/health" 30
MS="http://127.0.0.1:$((BASE+1))"

step "non-streaming: /inference through LiteLLM"
answer=$(curl -fsS --max-time 30 "$MS/inference" -H 'content-type: application/json' \
  -d '{"prompt":"hi","max_tokens":20}')
echo "$answer"
python3 - "$answer" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
assert a["text"] == "Hello from LiteLLM", a
assert a["model"] == "litellm/mocked", a
assert a["usage"]["total_tokens"] > 0, a
assert a["cost_usd"] > 0, a
PY

step "streaming: /inference/stream through LiteLLM"
stream=$(curl -fsS -N --max-time 30 "$MS/inference/stream" -H 'content-type: application/json' \
  -d '{"prompt":"hi","max_tokens":20,"model":"litellm/mocked"}')
python3 - "$stream" <<'PY'
import json, sys
events = [e[len("data: "):] for e in sys.argv[1].split("\n\n") if e.startswith("data: ")]
assert events[-1] == "[DONE]", events
text = "".join(json.loads(e) for e in events[:-1])
assert text == "Hello from LiteLLM", (text, events)
PY

step "streaming: the OpenAI passthrough through LiteLLM"
chunks=$(curl -fsS -N --max-time 30 "$MS/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"mocked","stream":true,"messages":[{"role":"user","content":"hi"}]}')
python3 - "$chunks" <<'PY'
import json, sys
events = [e[len("data: "):] for e in sys.argv[1].split("\n\n") if e.startswith("data: ")]
assert events[-1] == "[DONE]", events
chunks = [json.loads(e) for e in events[:-1]]
text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
assert text == "Hello from LiteLLM", (text, chunks)
assert any(c.get("usage") for c in chunks), chunks
PY
step "passed"
