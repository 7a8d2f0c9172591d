//! What `beanworld watch --attach` reads from the socket of `beanworld run --serve` after the
//! greeting: length-prefixed frames, each decoded and made a view by [`Views::next`] (the patch
//! cells it keeps between frames included), until the bytes end or one is refused. Any bytes
//! must give views or a refusal, never a panic, and no frame may cost more memory than
//! `MAX_FRAME`.

#![no_main]

use beanworld_viewer::remote::Views;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let mut views = Views::default();
    // Each frame consumes at least its four-byte length, so this ends.
    while let Ok(view) = views.next(&mut input) {
        std::hint::black_box(view);
    }
});
