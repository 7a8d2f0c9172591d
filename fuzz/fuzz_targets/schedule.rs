//! Reward schedules (`Fixed(…)`, `Cyclical([…])`, `Piecewise([…])`), parameter paths
//! (`"banana.interactions.tree.c2"`) and the time functions that drift them (`Cycle(…)`,
//! `Ramp(…)`, `Steps(…)`), read against the shipped JBW classic scenario the ways the engine
//! reads them; whatever resolves is then evaluated at the times where windows begin and end and
//! at the ends of time. The first byte picks the way, the rest is the text:
//!
//! - `0`: [`Scenario::schedule`], as teachers and events resolve a schedule;
//! - `1`: [`Scenario::param`], a parameter path;
//! - `2`: the scenario with its `task` replaced (`--task`, [`Scenario::parse_with`]);
//! - `3`: the scenario with its `dynamics` replaced, drift and `SetTask` events included.
//!
//! Any text must resolve or give an error, never a panic; a schedule's phase at any time must
//! name one of its parts.

#![no_main]

use std::sync::LazyLock;

use beanworld_sim::Scenario;
use beanworld_sim::dynamics::{EventAction, TimeFn};
use beanworld_sim::task::{Reward, Schedule};
use libfuzzer_sys::fuzz_target;

const BASE: &str = include_str!("../../scenarios/jbw-v0.ron");

static SCENARIO: LazyLock<Scenario> = LazyLock::new(|| Scenario::parse(BASE, "jbw-v0.ron").expect("valid"));

/// Times around `t`, saturating.
fn around(t: u64) -> [u64; 3] {
    [t.saturating_sub(1), t, t.saturating_add(1)]
}

/// The times worth looking at for a schedule: its window edges, and the ends of time.
fn schedule_times(s: &Schedule) -> Vec<u64> {
    let mut times = vec![0, 1, 2, u64::MAX / 2, u64::MAX - 1, u64::MAX];
    match s {
        Schedule::Fixed(_) => {}
        Schedule::Cyclical(parts) => {
            let mut edge = 0u64;
            for (_, d) in parts {
                edge = edge.saturating_add(*d);
                times.extend(around(edge));
            }
        }
        Schedule::Piecewise(parts) => times.extend(parts.iter().flat_map(|(start, _)| around(*start))),
    }
    times
}

fn probe_schedule(s: &Schedule, items: usize) {
    let mut coefficients = vec![0.0; Reward::coefficients_len(items)];
    for t in schedule_times(s) {
        assert!(s.phase(t) < s.phases(), "phase {} of {} at {t}", s.phase(t), s.phases());
        s.at(t).coefficients(&mut coefficients);
    }
}

fn probe_time_fn(f: &TimeFn) {
    let mut times = vec![0, 1, 2, u64::MAX / 2, u64::MAX - 1, u64::MAX];
    match f {
        TimeFn::Constant(_) => {}
        TimeFn::Steps { changes, .. } => times.extend(changes.iter().flat_map(|(t, _)| around(*t))),
        TimeFn::Ramp { start, end, .. } => {
            times.extend(around(*start));
            times.extend(around(*end));
            times.push(start / 2 + end / 2);
        }
        TimeFn::Cycle { period, phase, .. } => {
            times.extend(around(*period));
            times.extend(around(*phase));
            times.extend(around(period / 2));
        }
    }
    for t in times {
        std::hint::black_box(f.at(t));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&way, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let scenario = &*SCENARIO;
    let items = scenario.config.items.len();
    match way % 4 {
        0 => {
            if let Ok(s) = scenario.schedule(text) {
                probe_schedule(&s, items);
            }
        }
        1 => {
            let _ = scenario.param(text);
        }
        2 => match Scenario::parse_with(BASE, "jbw-v0.ron", &[("task", text)]) {
            Ok(s) => probe_schedule(&s.task, items),
            Err(e) => {
                let _ = e.to_string();
            }
        },
        _ => match Scenario::parse_with(BASE, "jbw-v0.ron", &[("dynamics", text)]) {
            Ok(s) => {
                for (_, f) in &s.dynamics.drift {
                    probe_time_fn(f);
                }
                for event in &s.dynamics.events {
                    if let EventAction::SetTask(schedule) = &event.action {
                        probe_schedule(schedule, items);
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
    }
});
