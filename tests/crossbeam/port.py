#!/usr/bin/env python3
"""Regenerates tests/crossbeam/*.rs (all but shim.rs) from crossbeam-channel 0.5.17's tests/
(in cargo's registry once crossbeam-channel is fetched: it is a dev-dependency):
`python3 tests/crossbeam/port.py`. The changes it makes are listed in each file's header;
NOCOMPILE and IGNORE below are the tests gort does not pass, with the reasons (the same
list is in the gort_chan crate docs)."""
import re, glob, os
src = glob.glob(os.path.expanduser('~/.cargo/registry/src/*/crossbeam-channel-0.5.17/tests'))[0]  # `cargo fetch` puts it there
dst = os.path.dirname(os.path.abspath(__file__))
NOTICE = """// Ported from crossbeam-channel 0.5.17, tests/{name}
// (https://github.com/crossbeam-rs/crossbeam/tree/master/crossbeam-channel).
// Copyright (c) 2019 The Crossbeam Project Developers.
// Licensed under the Apache License, Version 2.0 or the MIT license, at your option
// (crossbeam's LICENSE-APACHE and LICENSE-MIT, copied in tests/crossbeam/).
//
// Changes for gort: the imports point at gort through `crate::shim`; each test's body runs
// through `crate::shim::run`, on threads and on goroutines (tests/crossbeam.rs); the
// crate-level attributes moved to tests/crossbeam.rs; tests that check behaviour gort
// differs in on purpose are `#[ignore]`d with the reason (see the `gort_chan` docs).
"""
SEND_API = "Go semantics: a `Select` send case takes its value when it is added (Go evaluates send operands before selecting) and `select` completes the operation; crossbeam's `Select::send(&s)` + `SelectedOperation::send(&s, v)` (and a cloneable `Select`) do not exist in gort, so this test does not compile against it"
NOCOMPILE = {
    'select.rs': ['default_when_disconnected', 'unblocks', 'both_ready', 'loop_try', 'duplicate_operations', 'nesting', 'stress_send', 'stress_mixed', 'stress_timeout_two_threads', 'send_recv_same_channel', 'channel_through_channel', 'fairness2', 'sync_and_clone', 'send_and_clone', 'reuse', 'matching', 'matching_with_leftover'],
    'golang.rs': ['test_select_stress'],
    'ready.rs': ['default_when_disconnected', 'unblocks', 'both_ready', 'duplicate_operations', 'nesting', 'stress_send', 'stress_mixed', 'stress_timeout_two_threads', 'send_recv_same_channel', 'channel_through_channel', 'fairness2'],
}
TICK_ZERO = "Go semantics: a zero tick period panics, as Go's time.NewTicker does; crossbeam's tick(Duration::ZERO) ticks continuously"
SEND_EVAL = "Go semantics: select! evaluates every send operand before selecting; crossbeam evaluates only the chosen case's"
DROP_ALL = "gort drops every buffered value even when a Drop panics, then resumes the first panic; this test asserts crossbeam's leak of the values after the panicking one"
NEVER_SAME = "each never() is a channel of its own; crossbeam's never() receivers are all one channel"
FIRING = "Go semantics: after and tick send the time the timer fired (Go's time.Now() at firing), not the scheduled instant; this test asserts the scheduled instant, which a late timer misses"
TIMER_ORDER = "Go semantics: a timer channel gets its value when its timer fires, in deadline order, so a select blocked on two timers wakes with the earlier one; crossbeam checks every timer's deadline at wake-up and picks among the expired ones at random"
ALLOC_COUNT = "counts every allocation of the process against a bound, while the other tests of this binary allocate at the same time: fails at random here (crossbeam runs it among fewer tests)"
IGNORE = {
    'golang.rs': {'main@select2': ALLOC_COUNT},
    'tick.rs': {'capacity': TICK_ZERO, 'fairness': TICK_ZERO, 'fairness_duplicates': TICK_ZERO, 'stress_default': TICK_ZERO, 'intervals': FIRING, 'fire': FIRING},
    'ready.rs': {'fairness1': TICK_ZERO},
    'select.rs': {'fairness1': TICK_ZERO},
    'select_macro.rs': {'fairness1': TICK_ZERO},
    'array.rs': {'recv_in_send': SEND_EVAL, 'panic_on_drop': DROP_ALL},
    'same_channel.rs': {'never_same_channel': NEVER_SAME},
    'after.rs': {'fire': FIRING, 'recv_timeout': FIRING, 'fairness': TIMER_ORDER},
}
names = sorted(os.listdir(src))
for name in names:
    s = open(os.path.join(src, name)).read()
    # inner attributes and docs
    s = re.sub(r'^#!\[.*\].*\n', '', s, flags=re.M)
    s = re.sub(r'^//!', '//', s, flags=re.M)
    s = s.replace('use crossbeam_channel as cc;', 'use crate::shim::cb as cc;')
    s = re.sub(r'\bcrossbeam_channel::', 'crate::shim::cb::', s)
    s = s.replace('cc::crossbeam_channel_internal! {', 'cc::select! {')
    s = s.replace('use crossbeam_utils::thread::scope;', 'use crate::shim::scope;')
    s = s.replace('use std::thread::JoinHandle;', 'use crate::shim::thread::JoinHandle;')
    s = s.replace('use std::thread;', 'use crate::shim::thread;')
    s = s.replace('use rand::{thread_rng, Rng};', 'use crate::shim::rand::{thread_rng, Rng};')
    s = re.sub(r'\bstd::thread::(spawn|sleep|yield_now)\b', r'crate::shim::thread::\1', s)
    s = s.replace('::crate::shim', 'crate::shim')
    if name == 'golang.rs':
        s = s.replace('static ALLOCATED: AtomicUsize = AtomicUsize::new(0);', 'use crate::ALLOCATED;')
        i = s.index('unsafe impl GlobalAlloc for Counter {')
        j = s.index('static A: Counter = Counter;') + len('static A: Counter = Counter;\n')
        s = s[:i] + s[j:]
        s = s.replace('struct Counter;\n\n', '')
        s = s.replace('use std::alloc::{GlobalAlloc, Layout, System};\n', '')
    # Tests that assert crossbeam's timing margins (they read the clock), and every test of
    # the timer files, run alone in the binary (see shim::run).
    timed = set()
    starts = [(mm.start(), mm.group(1)) for mm in re.finditer(r'#\[test\]\n(?:[ \t]*#\[[^\n]*\][^\n]*\n)*[ \t]*fn (\w+)\(\) \{', s)]
    for k, (pos, tname) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(s)
        if 'Instant::now()' in s[pos:end] or name in ('after.rs', 'tick.rs', 'never.rs'):
            timed.add(tname)
    # wrap test bodies (top-level and nested modules: any indentation)
    def wrap(m):
        ind, attrs, fname = m.group(1), m.group(2), m.group(3)
        if fname in NOCOMPILE.get(name, []):
            return (f'{ind}#[test]\n{attrs}{ind}#[ignore = "{SEND_API}"]\n{ind}fn {fname}() {{}}\n\n'
                    f'{ind}#[cfg(any())] // does not compile against gort: see the test above\n'
                    f'{ind}fn {fname}_body() {{')
        reason = IGNORE.get(name, {}).get(fname)
        if name == 'golang.rs' and fname == 'main':
            mod = re.findall(r'^mod (\w+) \{', s[:m.start()], flags=re.M)[-1]
            reason = IGNORE.get(name, {}).get('main@' + mod)
        if reason:
            attrs += f'{ind}#[ignore = "{reason}"]\n'
        return (f'{ind}#[test]\n{attrs}{ind}fn {fname}() {{\n{ind}    crate::shim::run(GOROUTINES, {str(fname in timed).lower()}, {fname}_body)\n{ind}}}\n\n'
                f'{ind}fn {fname}_body() {{')
    s, n = re.subn(r'^([ \t]*)#\[test\]\n((?:[ \t]*#\[[^\n]*\][^\n]*\n)*)[ \t]*fn (\w+)\(\) \{', wrap, s, flags=re.M)
    tests = len(re.findall(r'#\[test\]', s))
    print(name, n, tests)
    open(os.path.join(dst, name), 'w').write(NOTICE.format(name=name) + '\n' + s)
