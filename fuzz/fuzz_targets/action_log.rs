//! Action logs, as `beanworld replay` reads them ([`LogReader`], which takes a path: each input
//! is written to a file in a folder of this process), read to their end. Any bytes must be read
//! or refused, never panic or allocate without bound; a log that reads to its end must replay
//! (the scenario it carries, the actions it holds) to an end or a clear error, and a log written
//! again from what was read must read back to the same entries.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use beanworld_sim::action_log::{Entry, LogReader, LogWriter};
use libfuzzer_sys::fuzz_target;

#[path = "common/inputs.rs"]
mod inputs;

/// The folder inputs are written to.
static DIR: LazyLock<PathBuf> = LazyLock::new(|| inputs::folder("log"));

/// At most this many steps of a log are replayed (a log is cheap to write long).
const MAX_STEPS: u64 = 200;

fuzz_target!(|data: &[u8]| {
    let path = DIR.join("input.actions");
    std::fs::write(&path, data).expect("written");
    let Ok(reader) = LogReader::open(&path) else { return };
    let scenario = reader.scenario().clone();
    let Ok(entries) = reader.collect::<Result<Vec<Entry>, _>>() else { return };
    // Written again, the same entries.
    let again = DIR.join("again.actions");
    let mut log = LogWriter::create(&again, &scenario).expect("created");
    for entry in &entries {
        match entry {
            Entry::Step(actions) => log.step(actions),
            Entry::Param(p, v) => log.param(p, *v),
            Entry::Task(t) => log.task(t),
        }
        .expect("written");
    }
    log.flush().expect("flushed");
    drop(log);
    let read: Vec<Entry> =
        LogReader::open(&again).expect("a log").collect::<Result<_, _>>().expect("entries read back");
    assert!(read == entries, "a log written again reads back the same");
    // Replayed: to its end or a clear error.
    if scenario.agents.iter().map(|g| u64::from(g.count)).sum::<u64>() <= 64 {
        let _ = beanworld_agents::replay::replay(&path, Some(MAX_STEPS), |_, _, _| true)
            .map_err(|e| e.to_string());
    }
});
