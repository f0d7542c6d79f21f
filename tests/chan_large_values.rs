//! Large values through channels on goroutine stacks: a send or receive moves its value
//! through the channel's internals by reference, so a 32 KiB value costs a few copies of
//! stack, not one per frame. Before, in debug builds, a 32 KiB send needed some 830 KiB of
//! goroutine stack (the value was passed down by value through every frame of the send
//! path) and overflowed; these tests give each goroutine, or each plain thread, 512 KiB and
//! fail (with a stack overflow, in their child process) on that code in debug builds.

mod common;

const BIG: usize = 32 * 1024;
const STACK: usize = 512 * 1024;
const VALUES: u32 = 200;

/// Sends `VALUES` 32 KiB values from one side to the other; `spawn` runs each side with a
/// 512 KiB stack and returns a join function.
fn big_values<J>(spawn: impl Fn(Box<dyn FnOnce() -> u64 + Send>) -> J)
where
    J: FnOnce() -> u64,
{
    for cap in [0, 1, 4] {
        let (tx, rx) = gort::chan::bounded::<[u8; BIG]>(cap);
        let sender = spawn(Box::new(move || {
            for i in 0..VALUES {
                tx.send([i as u8; BIG]).unwrap();
            }
            0
        }));
        let receiver = spawn(Box::new(move || {
            let mut sum = 0u64;
            while let Ok(v) = rx.recv() {
                sum += v[BIG - 1] as u64;
            }
            sum
        }));
        sender();
        let want: u64 = (0..VALUES as u64).map(|i| i % 256).sum();
        assert_eq!(receiver(), want, "cap {cap}");
    }
}

#[test]
fn sends_and_receives_of_32_kib_values_fit_in_512_kib_stacks() {
    const NAME: &str = "sends_and_receives_of_32_kib_values_fit_in_512_kib_stacks";
    if !common::is_child(NAME) {
        common::child_ok(NAME, &[]);
        return;
    }
    common::within(120, || {
        big_values(|f| {
            let h = gort::Builder::new().stack_size(STACK).spawn(f).unwrap();
            move || h.join().unwrap()
        })
    });
}

#[test]
fn sends_and_receives_of_32_kib_values_fit_in_512_kib_thread_stacks() {
    const NAME: &str = "sends_and_receives_of_32_kib_values_fit_in_512_kib_thread_stacks";
    if !common::is_child(NAME) {
        common::child_ok(NAME, &[]);
        return;
    }
    common::within(120, || {
        big_values(|f| {
            let h = std::thread::Builder::new()
                .stack_size(STACK)
                .spawn(f)
                .unwrap();
            move || h.join().unwrap()
        })
    });
}
