#[test]
fn smoke() {
    let v = gort::run(|| {
        let hs: Vec<_> = (0..1000u64).map(|i| gort::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(v, 499500);
}
