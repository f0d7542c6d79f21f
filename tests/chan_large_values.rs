//! Large values through channels on goroutine stacks: a send or receive moves its value
//! through the channel's internals by reference, so a 32 KiB value costs a few copies of
//! stack, not one per frame. Before, in debug builds, a 32 KiB send needed some 830 KiB of
//! goroutine stack (the value was passed down by value through every frame of the send
//! path) and overflowed; this test gives each goroutine 512 KiB and fails (with a stack
//! overflow, in its child process) on that code in debug builds.

mod common;

const NAME: &str = "sends_and_receives_of_32_kib_values_fit_in_512_kib_stacks";
const BIG: usize = 32 * 1024;
const STACK: usize = 512 * 1024;

#[test]
fn sends_and_receives_of_32_kib_values_fit_in_512_kib_stacks() {
    if !common::is_child(NAME) {
        common::child_ok(NAME, &[]);
        return;
    }
    common::within(120, || {
        for cap in [0, 1, 4] {
            let (tx, rx) = gort::chan::bounded::<[u8; BIG]>(cap);
            let sender = gort::Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    for i in 0..200u32 {
                        tx.send([i as u8; BIG]).unwrap();
                    }
                })
                .unwrap();
            let receiver = gort::Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    let mut sum = 0u64;
                    while let Ok(v) = rx.recv() {
                        sum += v[BIG - 1] as u64;
                    }
                    sum
                })
                .unwrap();
            sender.join().unwrap();
            let want: u64 = (0..200u64).map(|i| i % 256).sum();
            assert_eq!(receiver.join().unwrap(), want, "cap {cap}");
        }
    });
}
