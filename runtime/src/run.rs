//! [`run`]: the main goroutine.

/// Runs `f` as a goroutine and waits for it on the calling thread (which blocks), returning
/// its value. A panic in `f` is resumed on the caller. Other goroutines keep running after
/// `run` returns; the runtime lives as long as the process.
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
    match crate::builder::Builder::new().name("main").spawn(f) {
        Ok(h) => match h.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(e) => panic!("{e}"),
    }
}
