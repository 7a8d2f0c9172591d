//! Snapshot states: as `snapshot`, but each input's payload length and checksum are rewritten to
//! match what follows its header, so that mutations of the payload reach the decoder of the
//! [`State`](beanworld_sim::State) and the simulation rebuilt around it instead of stopping at
//! the checksum. Such a file is crafted, not damaged: the checksum refuses every accidental
//! change. Loading checks a decoded world's patches and records against the scenario (items
//! inside their patch, of known types, one live item a cell), which this target's first crashes
//! called for; it does not yet check agents and the rest of the state, so `scripts/fuzz.sh`
//! leaves this target out unless named.

#![no_main]

#[path = "common/snapshot.rs"]
mod common;
#[path = "common/inputs.rs"]
mod inputs;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(fixed) = common::fixed(data) {
        common::check(&fixed);
    }
});
