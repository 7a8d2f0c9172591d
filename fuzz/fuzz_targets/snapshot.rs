//! Snapshot files, as `beanworld run --resume` reads them ([`snapshot::load`], which takes a
//! path: each input is written to a file in a folder of this process), loaded with the scenario of `seeds/snapshot.ron`, the one `scripts/fuzz.sh`
//! makes its seed snapshots from, and the front end's `extra` read as `()`. The bytes are taken
//! as they are, so the file's layout, header and checksum checks are what is fuzzed (for the
//! state behind a right checksum, see `snapshot_state`). Any bytes must load or be refused, never
//! panic; a snapshot that loads must save to bytes that load to the same state and save to the
//! same bytes again.

#![no_main]

#[path = "common/snapshot.rs"]
mod common;
#[path = "common/inputs.rs"]
mod inputs;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| common::check(data));
