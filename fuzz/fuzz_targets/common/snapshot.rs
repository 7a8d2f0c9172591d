//! What the snapshot targets share: the scenario their inputs are loaded with, the folder they
//! are written to (`inputs.rs`), and the check of one input.

use std::path::PathBuf;
use std::sync::LazyLock;

use beanworld_sim::{Scenario, snapshot};

/// The scenario and the folder inputs are written to.
static SETUP: LazyLock<(Scenario, PathBuf)> = LazyLock::new(|| {
    let scenario = Scenario::parse(include_str!("../../seeds/snapshot.ron"), "snapshot.ron").expect("valid");
    let dir = super::inputs::folder("snapshot");
    (scenario, dir)
});

/// `bytes` with the payload length and checksum that its header and payload call for; `None` if
/// it is too short to have them.
#[allow(dead_code)] // `snapshot_state`'s, not `snapshot`'s
pub fn fixed(bytes: &[u8]) -> Option<Vec<u8>> {
    /// The most bytes a snapshot header may take (`MAX_HEADER` in snapshot.rs).
    const MAX_HEADER: usize = 1 << 16;
    let header_len = u32::from_le_bytes(bytes.get(12..16)?.try_into().ok()?) as usize;
    if header_len > MAX_HEADER {
        return None;
    }
    let header = bytes.get(16..16 + header_len)?;
    let at = 16 + header_len;
    let payload = bytes.get(at + 40..)?;
    let len = (payload.len() as u64).to_le_bytes();
    let mut hasher = blake3::Hasher::new();
    hasher.update(header).update(payload).update(&len);
    let mut out = bytes.to_vec();
    out[at..at + 8].copy_from_slice(&len);
    out[at + 8..at + 40].copy_from_slice(hasher.finalize().as_bytes());
    Some(out)
}

pub fn check(bytes: &[u8]) {
    let (scenario, dir) = &*SETUP;
    let path = dir.join("input.snap");
    std::fs::write(&path, bytes).expect("written");
    let _ = snapshot::header(&path).map_err(|e| e.to_string());
    match snapshot::load::<()>(&path, scenario) {
        Ok((sim, ())) => {
            let (first, second) = (dir.join("first.snap"), dir.join("second.snap"));
            snapshot::save(&sim, &(), &first).expect("saved");
            let (again, ()) = snapshot::load(&first, scenario).expect("a saved snapshot loads");
            assert_eq!(again.state_digest(), sim.state_digest());
            snapshot::save(&again, &(), &second).expect("saved");
            assert_eq!(std::fs::read(&first).ok(), std::fs::read(&second).ok(), "saving is stable");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
