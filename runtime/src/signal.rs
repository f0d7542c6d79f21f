//! Signal handling, the runtime's one mechanism for it (Go's `os/signal` sits on top, in
//! `gort::signal`; the goroutine dump on SIGQUIT would too).
//!
//! Each signal the program touches gets one permanent hook, installed with `signal-hook`
//! the first time and never removed (`signal-hook`'s `unregister` would leave the signal
//! ignored, not reset). A per-signal mode word says what the hook does:
//!
//! - [`Mode::Default`]: the signal's original disposition. If that was `SIG_DFL`, the hook
//!   emulates the default action (terminate, stop, or nothing), unless a default action was
//!   registered with [`set_default_action`], which then runs on the signal thread; if it
//!   was `SIG_IGN` (a `nohup`'d SIGHUP, Rust's SIGPIPE) nothing happens; if it was another
//!   handler, `signal-hook` chains to it.
//! - [`Mode::Ignore`]: nothing happens; the hook steps aside for `SIG_IGN` meanwhile, so
//!   that programs started then inherit the signal ignored (as Go's `signal.Ignore` does).
//! - [`Mode::Notify`]: the signal is relayed to the notifier (`gort::signal`'s channels),
//!   on the signal thread. If the notifier finds nobody listening any more, the signal gets
//!   its default treatment as above.
//!
//! The hook itself only does what is async-signal-safe: atomic loads and stores, a
//! one-byte `send` on a socket pair (the self-pipe) that wakes the *signal thread*, or the
//! default action (`signal-hook`'s `emulate_default_handler`). The signal thread is a plain
//! OS thread, started with the first hook; it reads the pipe and runs the notifier or a
//! registered default action, which may lock and allocate. Hooks are installed with
//! `SA_ONSTACK`, so a signal that lands on an M runs on the M's alternate signal stack,
//! not on the stack of the goroutine it interrupted.
//!
//! This works wherever it is called, after the runtime's threads exist: unlike `signalfd`
//! or `sigwait` it needs no signal blocked in every thread.
//!
//! Uses: `os_error`, `sysmon`.

use parking_lot::Mutex;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};

/// A signal (a Unix signal number), with the usual ones as constants. Go's `os.Signal`
/// (`syscall.Signal`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    /// Hangup (terminal closed; often "reload configuration").
    pub const SIGHUP: Signal = Signal(libc::SIGHUP);
    /// Interrupt from the keyboard (Ctrl-C).
    pub const SIGINT: Signal = Signal(libc::SIGINT);
    /// Quit from the keyboard (Ctrl-\).
    pub const SIGQUIT: Signal = Signal(libc::SIGQUIT);
    /// Abort.
    pub const SIGABRT: Signal = Signal(libc::SIGABRT);
    /// Trace trap.
    pub const SIGTRAP: Signal = Signal(libc::SIGTRAP);
    /// Termination request (`kill`'s default; how service managers stop a program).
    pub const SIGTERM: Signal = Signal(libc::SIGTERM);
    /// User-defined signal 1.
    pub const SIGUSR1: Signal = Signal(libc::SIGUSR1);
    /// User-defined signal 2.
    pub const SIGUSR2: Signal = Signal(libc::SIGUSR2);
    /// Write to a pipe with no reader (Rust programs ignore it by default).
    pub const SIGPIPE: Signal = Signal(libc::SIGPIPE);
    /// Timer signal from `alarm`.
    pub const SIGALRM: Signal = Signal(libc::SIGALRM);
    /// A child process stopped or ended.
    pub const SIGCHLD: Signal = Signal(libc::SIGCHLD);
    /// Continue if stopped.
    pub const SIGCONT: Signal = Signal(libc::SIGCONT);
    /// Stop typed at the terminal (Ctrl-Z).
    pub const SIGTSTP: Signal = Signal(libc::SIGTSTP);
    /// Terminal input for a background process.
    pub const SIGTTIN: Signal = Signal(libc::SIGTTIN);
    /// Terminal output for a background process.
    pub const SIGTTOU: Signal = Signal(libc::SIGTTOU);
    /// Urgent data on a socket.
    pub const SIGURG: Signal = Signal(libc::SIGURG);
    /// CPU time limit exceeded.
    pub const SIGXCPU: Signal = Signal(libc::SIGXCPU);
    /// File size limit exceeded.
    pub const SIGXFSZ: Signal = Signal(libc::SIGXFSZ);
    /// Virtual timer expired.
    pub const SIGVTALRM: Signal = Signal(libc::SIGVTALRM);
    /// Profiling timer expired.
    pub const SIGPROF: Signal = Signal(libc::SIGPROF);
    /// Terminal window size changed.
    pub const SIGWINCH: Signal = Signal(libc::SIGWINCH);
    /// I/O now possible.
    pub const SIGIO: Signal = Signal(libc::SIGIO);
    /// Bad system call.
    pub const SIGSYS: Signal = Signal(libc::SIGSYS);
    /// Bus error (cannot be handled here; the runtime's stack-overflow handler owns it).
    pub const SIGBUS: Signal = Signal(libc::SIGBUS);
    /// Segmentation fault (cannot be handled here; the runtime's stack-overflow handler
    /// owns it).
    pub const SIGSEGV: Signal = Signal(libc::SIGSEGV);
    /// Kill (cannot be caught or ignored).
    pub const SIGKILL: Signal = Signal(libc::SIGKILL);
    /// Stop (cannot be caught or ignored).
    pub const SIGSTOP: Signal = Signal(libc::SIGSTOP);

    /// The signal with number `signo` (e.g. a real-time signal, `SIGRTMIN() + n`).
    pub const fn from_raw(signo: i32) -> Signal {
        Signal(signo)
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The signal's name (`"SIGINT"`), if it is a well-known one.
    pub fn name(self) -> Option<&'static str> {
        signal_hook::low_level::signal_name(self.0)
    }

    /// Why the program cannot handle this signal, if it cannot: SIGKILL and SIGSTOP, the
    /// fault signals the runtime handles itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE), numbers
    /// out of range.
    pub fn unhandleable_reason(self) -> Option<&'static str> {
        if self.0 <= 0 || self.0 as usize >= NSIG {
            Some("is not a valid signal number")
        } else if self == Signal::SIGKILL || self == Signal::SIGSTOP {
            Some("cannot be caught or ignored")
        } else if signal_hook::consts::FORBIDDEN.contains(&self.0) || self == Signal::SIGBUS {
            Some("is a synchronous fault signal, which the runtime itself handles")
        } else {
            None
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Signal {
    /// The name (`SIGINT`), or `signal 42`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// What a signal's hook does (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// The original disposition (or a registered default action).
    Default = 0,
    /// Nothing.
    Ignore = 1,
    /// Relay to the notifier.
    Notify = 2,
}

/// One past the largest signal number (Linux: 64 signals).
const NSIG: usize = 65;

/// What the signal's disposition was before its hook.
const ORIG_DFL: u8 = 0;
const ORIG_IGN: u8 = 1;
const ORIG_HANDLER: u8 = 2;

/// Per-signal state the hook reads.
struct SigState {
    mode: AtomicU8,
    /// `ORIG_*`, set before the hook is installed.
    orig: AtomicU8,
    /// A default action is registered: `Default` mode forwards to the signal thread.
    custom_default: AtomicBool,
    /// Arrived, not yet handled by the signal thread.
    pending: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // only used to build `STATES`
const STATE: SigState = SigState {
    mode: AtomicU8::new(0),
    orig: AtomicU8::new(ORIG_DFL),
    custom_default: AtomicBool::new(false),
    pending: AtomicBool::new(false),
};

static STATES: [SigState; NSIG] = [STATE; NSIG];

/// The write end of the self-pipe (-1 until the signal thread runs).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Signals in [`Mode::Notify`] now: while there are none, the signal thread cannot wake a
/// goroutine.
static NOTIFYING: AtomicUsize = AtomicUsize::new(0);

/// Whether the signal thread exists but cannot wake any goroutine (no signal is relayed),
/// so sysmon's deadlock check may count it as the runtime's own. While a signal is relayed
/// it can, as in Go, where a program waiting for a signal is not deadlocked.
pub(crate) fn thread_cannot_wake() -> bool {
    WAKE_FD.load(SeqCst) >= 0 && NOTIFYING.load(SeqCst) == 0 && USER_DEFAULTS.load(SeqCst) == 0
}

/// Signals whose registered default action is a program's own (`set_default_action`),
/// which may wake a goroutine; the runtime's own (the goroutine dump) cannot.
static USER_DEFAULTS: AtomicUsize = AtomicUsize::new(0);
/// Which signals have a program's default action (see `USER_DEFAULTS`).
static USER_DEFAULT: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];

/// Kernel thread id of the signal thread (0 until it runs).
static THREAD_TID: AtomicI32 = AtomicI32::new(0);

/// The signal thread's kernel thread id while it cannot wake a goroutine (see
/// [`thread_cannot_wake`]): the deadlock check counts it as one of the runtime's own then.
pub(crate) fn idle_thread_tid() -> Option<i32> {
    let tid = THREAD_TID.load(SeqCst);
    (tid != 0 && thread_cannot_wake()).then_some(tid)
}

/// The relay of `Notify` mode: returns whether anybody still listens for the signal.
pub type Notifier = Box<dyn Fn(Signal) -> bool + Send + Sync>;
/// A registered default action.
pub type DefaultAction = Arc<dyn Fn(Signal) + Send + Sync>;

struct Registry {
    /// Signals whose hook is installed.
    hooked: [bool; NSIG],
    /// Registered default actions.
    defaults: Vec<(Signal, DefaultAction)>,
    /// The hook's `sigaction` of each signal in [`Mode::Ignore`], which is `SIG_IGN` while
    /// ignored (so that, as in Go, programs started meanwhile inherit the signal ignored).
    parked_hooks: Vec<(Signal, libc::sigaction)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    hooked: [false; NSIG],
    defaults: Vec::new(),
    parked_hooks: Vec::new(),
});

static NOTIFIER: OnceLock<Notifier> = OnceLock::new();

/// Sets the relay of [`Mode::Notify`]: the one consumer of the signals this mechanism
/// relays, installed once per process by the package that hands signals to the program
/// (`gort::signal`, whose channels live above the runtime, does). It runs on the signal
/// thread, once per delivered signal, and must not block for long; it returns whether
/// anybody took the signal (if not, the signal gets its default treatment).
///
/// # Panics
/// If a relay is already set.
pub fn set_notifier(f: Notifier) {
    if NOTIFIER.set(f).is_err() {
        panic!("gort: the signal notifier is already set");
    }
}

/// Sets what `sig`'s hook does, installing the hook first if `sig` has none.
///
/// # Errors
/// If the signal cannot be handled (SIGKILL, SIGSTOP, the fault signals, a bad number) or
/// the hook cannot be installed.
pub fn set_mode(sig: Signal, mode: Mode) -> io::Result<()> {
    let mut reg = REGISTRY.lock();
    if mode == Mode::Default && !reg.hooked[sig.0 as usize] {
        return Ok(()); // never touched: it already has its original disposition
    }
    hook(&mut reg, sig)?;
    let was = self::mode(sig);
    if mode == Mode::Ignore && was != Mode::Ignore {
        // SAFETY: all-zero is a valid sigaction; we install SIG_IGN and keep the hook's
        // action to put back.
        unsafe {
            let mut ign: libc::sigaction = std::mem::zeroed();
            ign.sa_sigaction = libc::SIG_IGN;
            let mut hook_act: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig.0, &ign, &mut hook_act) != 0 {
                return Err(crate::last_os_error());
            }
            reg.parked_hooks.push((sig, hook_act));
        }
    } else if mode != Mode::Ignore && was == Mode::Ignore {
        if let Some(i) = reg.parked_hooks.iter().position(|(s, _)| *s == sig) {
            let (_, hook_act) = reg.parked_hooks.swap_remove(i);
            // SAFETY: re-installing the hook's own action, saved above.
            if unsafe { libc::sigaction(sig.0, &hook_act, std::ptr::null_mut()) } != 0 {
                return Err(crate::last_os_error());
            }
        }
    }
    if mode == Mode::Notify && was != Mode::Notify {
        NOTIFYING.fetch_add(1, SeqCst);
    } else if mode != Mode::Notify && was == Mode::Notify {
        NOTIFYING.fetch_sub(1, SeqCst);
    }
    STATES[sig.0 as usize].mode.store(mode as u8, SeqCst);
    Ok(())
}

/// The current mode of `sig`.
pub fn mode(sig: Signal) -> Mode {
    match STATES.get(sig.0 as usize).map(|s| s.mode.load(SeqCst)) {
        Some(1) => Mode::Ignore,
        Some(2) => Mode::Notify,
        _ => Mode::Default,
    }
}

/// Whether `sig` is ignored: set to [`Mode::Ignore`], or left at an original disposition
/// of `SIG_IGN` (Go's `signal.Ignored`).
pub fn ignored(sig: Signal) -> bool {
    if sig.unhandleable_reason().is_some() {
        return false;
    }
    let reg = REGISTRY.lock();
    let st = &STATES[sig.0 as usize];
    match mode(sig) {
        Mode::Ignore => true,
        Mode::Notify => false,
        Mode::Default if reg.hooked[sig.0 as usize] => {
            st.orig.load(SeqCst) == ORIG_IGN && !st.custom_default.load(SeqCst)
        }
        Mode::Default => original(sig).is_ok_and(|o| o == ORIG_IGN),
    }
}

/// Registers `action` as `sig`'s default action, or removes it (`None`): in
/// [`Mode::Default`], and in [`Mode::Notify`] once nobody listens, the signal then runs
/// `action` on the signal thread instead of its original disposition. A program's
/// `gort::signal::notify` takes precedence, as Go's does over its runtime's own handling
/// (this is how a goroutine dump on SIGQUIT gives way to a user's `notify(SIGQUIT)`).
/// Installs `sig`'s hook.
///
/// # Errors
/// As [`set_mode`].
pub fn set_default_action(sig: Signal, action: Option<DefaultAction>) -> io::Result<()> {
    set_default(sig, action, true)
}

/// [`set_default_action`] for the runtime's own actions (the goroutine dump), which cannot
/// wake a goroutine and so leave the deadlock check alone.
pub(crate) fn set_runtime_default_action(
    sig: Signal,
    action: Option<DefaultAction>,
) -> io::Result<()> {
    set_default(sig, action, false)
}

fn set_default(sig: Signal, action: Option<DefaultAction>, user: bool) -> io::Result<()> {
    let mut reg = REGISTRY.lock();
    hook(&mut reg, sig)?;
    reg.defaults.retain(|(s, _)| *s != sig);
    let custom = action.is_some();
    if let Some(a) = action {
        reg.defaults.push((sig, a));
    }
    STATES[sig.0 as usize].custom_default.store(custom, SeqCst);
    let was = USER_DEFAULT[sig.0 as usize].swap(custom && user, SeqCst);
    match (was, custom && user) {
        (false, true) => {
            USER_DEFAULTS.fetch_add(1, SeqCst);
        }
        (true, false) => {
            USER_DEFAULTS.fetch_sub(1, SeqCst);
        }
        _ => {}
    }
    Ok(())
}

/// Whether a default action is registered for `sig` (see [`set_default_action`]).
pub(crate) fn has_default_action(sig: Signal) -> bool {
    STATES[sig.0 as usize].custom_default.load(SeqCst)
}

/// `sig`'s disposition now, as an `ORIG_*` value.
fn original(sig: Signal) -> io::Result<u8> {
    // SAFETY: all-zero is a valid sigaction to be overwritten.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying (null new action) into a valid struct.
    if unsafe { libc::sigaction(sig.0, std::ptr::null(), &mut old) } != 0 {
        return Err(crate::last_os_error());
    }
    Ok(match old.sa_sigaction {
        libc::SIG_DFL => ORIG_DFL,
        libc::SIG_IGN => ORIG_IGN,
        _ => ORIG_HANDLER,
    })
}

/// Installs `sig`'s permanent hook if it has none (caller holds the registry).
fn hook(reg: &mut Registry, sig: Signal) -> io::Result<()> {
    if let Some(why) = sig.unhandleable_reason() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gort::signal: {sig} {why}"),
        ));
    }
    if reg.hooked[sig.0 as usize] {
        return Ok(());
    }
    start_signal_thread()?;
    let st = &STATES[sig.0 as usize];
    st.orig.store(original(sig)?, SeqCst);
    st.mode.store(Mode::Default as u8, SeqCst);
    let signo = sig.0;
    // SAFETY: `on_signal` is async-signal-safe (see its docs).
    unsafe { signal_hook::low_level::register(signo, move || on_signal(signo)) }?;
    // Run the handler on the alternate signal stack of the thread it lands on (every M
    // has one), never on a goroutine's stack.
    // SAFETY: re-installing the same action with one more flag; the struct is valid.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signo, std::ptr::null(), &mut act) == 0 {
            act.sa_flags |= libc::SA_ONSTACK;
            libc::sigaction(signo, &act, std::ptr::null_mut());
        }
    }
    reg.hooked[sig.0 as usize] = true;
    Ok(())
}

/// The hook, in signal context: only atomics, `send(2)` and the default action.
fn on_signal(signo: i32) {
    let st = &STATES[signo as usize];
    let mode = st.mode.load(SeqCst);
    if mode == Mode::Ignore as u8 {
        return;
    }
    if mode == Mode::Default as u8 && !st.custom_default.load(SeqCst) {
        default_disposition(signo);
        return;
    }
    st.pending.store(true, SeqCst);
    let fd = WAKE_FD.load(SeqCst);
    // SAFETY: `send` is async-signal-safe; the socket lives for the whole process. A full
    // pipe already holds a wake-up, so a failed send loses nothing.
    unsafe { libc::send(fd, b"s".as_ptr().cast(), 1, libc::MSG_DONTWAIT) };
}

/// The original disposition of `signo` (async-signal-safe): the default action if it was
/// `SIG_DFL`; nothing if it was ignored, or a handler (`signal-hook` chains to it).
fn default_disposition(signo: i32) {
    if STATES[signo as usize].orig.load(SeqCst) == ORIG_DFL {
        let _ = signal_hook::low_level::emulate_default_handler(signo);
    }
}

/// Starts the signal thread and its self-pipe, once.
fn start_signal_thread() -> io::Result<()> {
    if WAKE_FD.load(SeqCst) >= 0 {
        return Ok(());
    }
    let (rd, wr) = UnixStream::pair()?;
    wr.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("gort-signal".into())
        .spawn(move || signal_thread(rd))?;
    // The write end lives for the whole process.
    WAKE_FD.store(wr.as_raw_fd(), SeqCst);
    std::mem::forget(wr);
    Ok(())
}

/// The signal thread: drains the pipe, then handles every pending signal.
fn signal_thread(mut rd: UnixStream) {
    // SAFETY: gettid has no preconditions.
    THREAD_TID.store(unsafe { libc::gettid() }, SeqCst);
    // Until now the deadlock check saw a thread it did not know.
    crate::sysmon::wake();
    let mut buf = [0u8; 64];
    loop {
        match rd.read(&mut buf) {
            Ok(0) => return, // cannot happen: the write end is never closed
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("gort: signal thread: {e}");
                return;
            }
        }
        for (signo, st) in STATES.iter().enumerate().skip(1) {
            if st.pending.swap(false, SeqCst) {
                deliver(Signal(signo as i32));
            }
        }
    }
}

/// Handles one arrived signal on the signal thread.
fn deliver(sig: Signal) {
    let st = &STATES[sig.0 as usize];
    match mode(sig) {
        Mode::Ignore => return,
        Mode::Notify => {
            if NOTIFIER.get().is_some_and(|n| n(sig)) {
                return;
            }
        }
        Mode::Default => {}
    }
    // Nobody (any more) relays it: its default treatment.
    let action = if st.custom_default.load(SeqCst) {
        let reg = REGISTRY.lock();
        reg.defaults
            .iter()
            .find(|(s, _)| *s == sig)
            .map(|(_, a)| a.clone())
    } else {
        None
    };
    match action {
        Some(a) => a(sig),
        None => default_disposition(sig.0),
    }
}
