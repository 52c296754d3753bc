#!/usr/bin/env bash
# Supply-chain checks (issue 11.8), driven by the committed deny.toml.
#
#   scripts/supply_chain.sh lint    `make lint`: cargo deny check bans licenses sources —
#                                   licenses from the allow-list, crates from crates.io only,
#                                   duplicate versions reported as warnings. Works offline.
#   scripts/supply_chain.sh audit   `make audit`: known vulnerabilities — cargo deny check
#                                   advisories (RustSec database, fetched from GitHub) and
#                                   npm audit --omit=dev --audit-level=high (npm registry).
#                                   Not part of CI: the databases are not reachable from every
#                                   machine, and this says so plainly instead of passing.
#
# cargo-deny is installed from crates.io (cargo install --locked) only when
# `cargo deny --version` fails, so a warm machine or CI cache skips it.
# Exit status (audit): 0 every database reached and nothing found; 1 something found (or a
# tool failed); 3 nothing found but at least one database could not be reached.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '[supply-chain] %s\n' "$*" >&2; }

ensure_cargo_deny() {
    if cargo deny --version >/dev/null 2>&1; then
        return 0
    fi
    log "cargo-deny is missing: installing it from crates.io (cargo install cargo-deny --locked; a few minutes, once)"
    if ! cargo install cargo-deny --locked; then
        log "could not install cargo-deny (is crates.io reachable?)"
        return 1
    fi
}

# Output that means "the database could not be fetched", as opposed to findings.
UNREACHABLE='failed to fetch|could not resolve|resolve host|network|timed out|timeout|connection (refused|reset)|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|audit endpoint returned an error|request to https?://[^ ]+ failed|unable to (access|connect)|failed to (open|clone|connect)'

lint() {
    ensure_cargo_deny || exit 1
    # Duplicate versions are warnings (deny.toml); the inclusion graphs would bury the summary.
    cargo deny --locked check --hide-inclusion-graph bans licenses sources
}

audit() {
    local found=0 unreachable=0 out rc

    printf '\n== Rust: cargo deny check advisories (RustSec)\n'
    if ensure_cargo_deny; then
        out=$(timeout 300 cargo deny --locked check advisories 2>&1)
        rc=$?
        printf '%s\n' "$out" | tail -n 60
        if [ $rc -eq 0 ]; then
            echo "Rust advisories: none found."
        elif printf '%s' "$out" | grep -q 'RUSTSEC-'; then
            echo "Rust advisories: FOUND (see above)."
            found=1
        elif [ $rc -eq 124 ] || printf '%s' "$out" | grep -qiE "$UNREACHABLE"; then
            echo "Rust advisories: NOT CHECKED - the RustSec advisory database (github.com/rustsec/advisory-db) could not be reached from this machine."
            unreachable=1
        else
            echo "Rust advisories: cargo deny failed (see above)."
            found=1
        fi
    else
        echo "Rust advisories: NOT CHECKED - cargo-deny is not installed and could not be installed."
        unreachable=1
    fi

    printf '\n== frontend: npm audit --omit=dev --audit-level=high\n'
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm advisories: NOT CHECKED - npm is not installed."
        unreachable=1
    else
        out=$(cd frontend && timeout 120 npm audit --omit=dev --audit-level=high 2>&1)
        rc=$?
        printf '%s\n' "$out" | tail -n 40
        if [ $rc -eq 0 ]; then
            echo "npm advisories: none at high or critical."
        elif printf '%s' "$out" | grep -qiE '[0-9]+ (high|critical)|severity vulnerabilit'; then
            echo "npm advisories: FOUND at high or critical (see above)."
            found=1
        elif [ $rc -eq 124 ] || printf '%s' "$out" | grep -qiE "$UNREACHABLE"; then
            echo "npm advisories: NOT CHECKED - the npm registry's audit endpoint could not be reached from this machine."
            unreachable=1
        else
            echo "npm advisories: npm audit failed (see above)."
            found=1
        fi
    fi

    echo
    if [ $found -ne 0 ]; then
        log "audit: known vulnerabilities found"
        exit 1
    elif [ $unreachable -ne 0 ]; then
        log "audit: nothing found, but NOT every advisory database could be reached: the result is incomplete"
        exit 3
    fi
    log "audit: no known vulnerabilities"
}

case "${1:-}" in
    lint) lint ;;
    audit) audit ;;
    *)
        echo "usage: $0 lint|audit" >&2
        exit 2
        ;;
esac
