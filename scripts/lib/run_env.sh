# The environment `make run` (scripts/run_all.sh) gives each local service; sourced, not run.
# Tested by scripts/test_run_env.sh (part of `make test`).

# The names a local install answers to. A page on another site can make the browser send
# requests to localhost (DNS rebinding); the gateway refuses any other Host with 400
# INVALID_HOST. `ALLOWED_HOSTS=` (set, empty) answers any host; a LAN name is added with
# ALLOWED_HOSTS=localhost,127.0.0.1,[::1],sable.lan.
LOCAL_ALLOWED_HOSTS='localhost,127.0.0.1,[::1]'

# Applies `make run`'s defaults to the current environment: ALLOWED_HOSTS, unless the caller
# (or .env) set it, even to empty.
run_env_defaults() {
  export ALLOWED_HOSTS="${ALLOWED_HOSTS-$LOCAL_ALLOWED_HOSTS}"
}

# The provider keys in the current environment: every variable named *_API_KEY (OPENAI_API_KEY,
# GROQ_API_KEY, the names a providers file gives in api_key_env by convention).
provider_key_names() {
  compgen -e | grep -E '_API_KEY$' || true
}

# run_service NAME COMMAND...: runs COMMAND as service NAME. Only the model service talks to
# providers, so only it keeps the provider keys; the gateway and the workers start without them.
run_service() {
  local name=$1
  shift
  if [ "$name" = model ]; then
    "$@"
  else
    local unset=() key
    for key in $(provider_key_names); do unset+=(-u "$key"); done
    env "${unset[@]}" "$@"
  fi
}
