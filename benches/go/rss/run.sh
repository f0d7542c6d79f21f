#!/bin/sh
# RSS + page tables per parked goroutine, and the time to park them, at 100k and 1M:
# gort, Go, tokio, may, side by side (benches/compare.sh --only rss,park does the same).
# Usage: benches/go/rss/run.sh [counts...]   (from the repository root; default 100000 1000000)
set -e
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
cargo build --release --example rss_per_goroutine
bin="${CARGO_TARGET_DIR:-target}/release/examples/rss_per_goroutine"
gobin=""
if command -v go >/dev/null 2>&1; then
    mkdir -p target/go-bench
    (cd benches/go && go build -o "$root/target/go-bench/rss" ./rss) && gobin="$root/target/go-bench/rss"
fi
counts="${*:-100000 1000000}"
for n in $counts; do
    "$bin" gort "$n"
    [ -n "$gobin" ] && "$gobin" "$n"
    "$bin" tokio "$n"
    "$bin" may "$n"
done
