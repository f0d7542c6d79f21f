#!/usr/bin/env bash
# Builds check.c with the switch of every supported CPU and runs it: natively for the
# machine's own CPU, under qemu-user for the other. Installs the cross compiler and the
# emulator (Debian packages) when they are missing and apt-get is there to install them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v x86_64-linux-gnu-gcc >/dev/null || command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "coroutine switch check: missing ${need[*]}; install them to run it" >&2
        exit 1
    fi
fi

x86cc=$(command -v x86_64-linux-gnu-gcc || command -v gcc)
# x86_64: the assembly is in Intel syntax without register prefixes, as Rust's global_asm!
# reads it.
"$x86cc" -c -Wa,-msyntax=intel,-mnaked-reg,--noexecstack -o "$out/x86_64.o" "$here/x86_64.S"
"$x86cc" -O2 -o "$out/x86_64" "$here/check.c" "$out/x86_64.o"
aarch64-linux-gnu-gcc -O2 -static -o "$out/aarch64" "$here/check.c" "$here/aarch64.S"

case "$(uname -m)" in
    x86_64) "$out/x86_64"; qemu-aarch64 "$out/aarch64" ;;
    aarch64) "$out/aarch64"; qemu-x86_64 "$out/x86_64" ;;
    *) echo "coroutine switch check: unsupported host $(uname -m)" >&2; exit 1 ;;
esac
