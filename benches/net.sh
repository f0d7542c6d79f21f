#!/usr/bin/env bash
# The network rows of the comparison alone: echo (100 connections, 64-byte messages, the
# gort echo example's load client for every server: gort, Go net, tokio, may) and HTTP hello
# (`wrk -t2 -c100` against gort, Go net/http, may_minihttp), and the server CPU of both
# (per message, per request). Results go to
# target/compare-partial/. Usage: benches/net.sh [--reps N]
exec "$(dirname "$0")/compare.sh" --only echo,echo_cpu,http,http_cpu "$@"
