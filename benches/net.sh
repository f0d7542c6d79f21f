#!/usr/bin/env bash
# Network benches, every server measured side by side in one run with the same load:
#   echo: 100 connections ping-ponging 64-byte messages, driven by `echo --client`
#         (the gort echo example's load client, the same for every server);
#         servers: gort (examples/echo.rs), Go net (benches/go/echo), tokio (benches/net_peers.rs)
#   http: `wrk -t2 -c100` against gort (examples/http_hello.rs), Go net/http
#         (benches/go/http) and may_minihttp (benches/net_peers.rs)
# Only 127.0.0.1 is used. Usage: benches/net.sh [SECONDS per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
export CARGO_TARGET_DIR=$TARGET

echo "building..." >&2
cargo build --release --example echo --example http_hello >&2
cargo bench --bench net_peers --no-run >&2
PEERS=$(ls -t "$TARGET"/release/deps/net_peers-* | grep -v '\.d$' | head -1)
HAVE_GO=0
if command -v go >/dev/null; then
  (cd benches/go && go build -o "$TARGET/go-echo" ./echo && go build -o "$TARGET/go-http" ./http) >&2 && HAVE_GO=1
fi
HAVE_WRK=0; command -v wrk >/dev/null && HAVE_WRK=1

PID=
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap stop EXIT

# start NAME CMD... : starts a server in the background and waits until it listens.
start() { "$@" >/dev/null 2>&1 & PID=$!; sleep 0.7; }

echo_run() { # echo_run ADDR -> msgs/s
  "$TARGET/release/examples/echo" --client "$1" --load 100 --duration "$SECS" |
    sed -E 's/.* ([0-9]+) msgs\/s, p50 ([0-9]+) µs, p99 ([0-9]+) µs.*/\1 \2 \3/'
}
wrk_run() { # wrk_run URL -> req/s
  { wrk -t2 -c100 -d"${SECS}s" "$1" || true; } | awk '/Requests\/sec/ {printf "%d", $2}'
}

declare -A RATE P50 P99
run_echo() { # run_echo NAME ADDR CMD...
  local name=$1 addr=$2; shift 2
  start "$@"
  read -r RATE[$name] P50[$name] P99[$name] < <(echo_run "$addr" || true) || true
  stop
}
run_echo gort 127.0.0.1:7101 "$TARGET/release/examples/echo" --server 127.0.0.1:7101
[ $HAVE_GO = 1 ] && run_echo go 127.0.0.1:7102 "$TARGET/go-echo" 127.0.0.1:7102
run_echo tokio 127.0.0.1:7103 "$PEERS" tokio-echo 127.0.0.1:7103

declare -A REQ
if [ $HAVE_WRK = 1 ]; then
  start "$TARGET/release/examples/http_hello" --server 127.0.0.1:7201; REQ[gort]=$(wrk_run http://127.0.0.1:7201/); stop
  if [ $HAVE_GO = 1 ]; then start "$TARGET/go-http" 127.0.0.1:7202; REQ[go]=$(wrk_run http://127.0.0.1:7202/); stop; fi
  start "$PEERS" may-http 127.0.0.1:7203; REQ[may_minihttp]=$(wrk_run http://127.0.0.1:7203/); stop
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); ${SECS}s per run"
echo
echo "| echo, 100 conns, 64 B | msgs/s | p50 µs | p99 µs | gort vs this |"
echo "|---|---|---|---|---|"
for n in gort go tokio; do
  [ -n "${RATE[$n]:-}" ] || continue
  echo "| $n | ${RATE[$n]} | ${P50[$n]} | ${P99[$n]} | $(ratio "${RATE[gort]}" "${RATE[$n]}") |"
done
if [ $HAVE_WRK = 1 ]; then
  echo
  echo "| http hello, wrk -t2 -c100 | req/s | gort vs this |"
  echo "|---|---|---|"
  for n in gort go may_minihttp; do
    [ -n "${REQ[$n]:-}" ] || continue
    echo "| $n | ${REQ[$n]} | $(ratio "${REQ[gort]}" "${REQ[$n]}") |"
  done
fi
