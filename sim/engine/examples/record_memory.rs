//! What a long run keeps of the patches its agents changed: records of evicted changed patches
//! (in memory and spilled to the store's file) and the process's resident memory, every so many
//! steps of a scenario driven by its own policies.
//!
//! `cargo run --release -p beanworld-sim --example record_memory -- SCENARIO [STEPS] [EVERY]
//! [MAX_RECORD_BYTES]` (defaults: 2,000,000 steps, a line every 100,000, the engine's cap).

use beanworld_sim::{Scenario, Simulation};

/// The process's resident memory in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: record_memory SCENARIO [STEPS] [EVERY] [MAX_RECORD_BYTES]".into());
    };
    let number = |i: usize, default: u64| args.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let (steps, every) = (number(1, 2_000_000)?, number(2, 100_000)?.max(1));
    let mut sim = Simulation::new(Scenario::load(std::path::Path::new(path))?)?;
    if let Some(cap) = args.get(3) {
        sim.set_record_memory(cap.parse()?);
    }
    let mut choices = Vec::new();
    let start = std::time::Instant::now();
    while sim.time() < steps {
        sim.scripted_actions(&mut choices);
        let actions: Vec<_> = choices
            .iter()
            .map(|c| c.ok_or("every agent must follow a scripted policy"))
            .collect::<Result<_, _>>()?;
        sim.step(&actions)?;
        if sim.time().is_multiple_of(every) {
            let w = sim.world();
            println!(
                "step {} patches {} records {} in_memory {} items_in_memory {} record_bytes {} \
                 store_bytes {} rss_mib {:.1} seconds {:.0}",
                sim.time(),
                w.patch_count(),
                w.record_count(),
                w.records_in_memory(),
                w.record_items(),
                w.record_bytes(),
                w.store_bytes(),
                rss_mib(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
