#!/usr/bin/env bash
# One command for the whole comparison of gort with Go, tokio, may, crossbeam-channel, flume
# and std mpsc: every workload of DESIGN.md's Targets table, interleaved, with repetitions.
# Writes BENCHMARKS.md, the README's Performance section and benches/results/.
#
#   benches/compare.sh            # full run (about 25 minutes on 2 cores, after the build)
#   benches/compare.sh --quick    # every workload once, small (what CI runs)
#   benches/compare.sh --help     # options (--reps N, --only KEYS)
#
# Go (Debian's golang-go) and wrk are installed with apt-get when missing and this user may
# (root, or passwordless sudo); without them the Go column and the HTTP row say so.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v go >/dev/null || need+=(golang-go)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=skip; fi
  fi
  if [ "$sudo" != skip ]; then
    echo "compare.sh: installing ${need[*]}" >&2
    { timeout 300 $sudo apt-get update -qq &&
      timeout 300 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >&2 ||
      echo "compare.sh: could not install ${need[*]}; going on without" >&2
  else
    echo "compare.sh: ${need[*]} missing and no root: going on without" >&2
  fi
fi

exec cargo run --release --quiet -p gort-compare -- "$@"
