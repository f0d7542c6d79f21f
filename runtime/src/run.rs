//! [`run`]: the main goroutine.
//!
//! Uses: `builder`, `stack`.

/// Runs `f` as a goroutine and waits for it on the calling thread (which blocks), returning
/// its value. A panic in `f` is resumed on the caller. Other goroutines keep running after
/// `run` returns; the runtime lives as long as the process.
///
/// Like a main thread, this main goroutine gets a large stack:
/// [`crate::stack::MAIN_STACK_SIZE`] (8 MiB), or the default stack size if that is larger.
/// Goroutines it spawns get the (much smaller) default.
///
/// ```
/// let sum = gort_runtime::run(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| gort_runtime::go(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let stack = crate::stack::MAIN_STACK_SIZE.max(crate::stack::default_stack_size());
    match crate::builder::Builder::new()
        .name("main")
        .stack_size(stack)
        .spawn(f)
    {
        Ok(h) => match h.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(e) => panic!("{e}"),
    }
}
