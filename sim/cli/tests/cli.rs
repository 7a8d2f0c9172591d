//! End-to-end tests of the `beanworld` command, run as a user runs it. They live with the CLI
//! crate because cargo only hands a package's own integration tests the path of its binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn beanworld(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_beanworld")).args(args).output().expect("the binary runs")
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name).display().to_string()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("beanworld-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn map_digest_is_independent_of_what_was_generated_before() {
    let v0 = scenario("jbw-v0.ron");
    let plain = stdout(&beanworld(&["map", &v0, "--region", "0,0,255,255", "--hash"]));
    let again = stdout(&beanworld(&["map", &v0, "--region", "0,0,255,255", "--hash"]));
    let detour = stdout(&beanworld(&[
        "map",
        &v0,
        "--region",
        "0,0,255,255",
        "--generate",
        "-300,-300,-1,-1",
        "--generate",
        "256,256,500,400",
        "--hash",
    ]));
    assert_eq!(plain.trim().len(), 64, "a 256-bit hex digest: {plain}");
    assert_eq!(plain, again);
    assert_eq!(plain, detour);
    let other_seed = stdout(&beanworld(&["map", &v0, "--region", "0,0,255,255", "--hash", "--seed", "1"]));
    assert_ne!(plain, other_seed);
}

#[test]
fn map_without_a_scenario_uses_the_embedded_classic_world() {
    let embedded = stdout(&beanworld(&["map", "--region", "-40,-40,40,40", "--hash"]));
    let file = stdout(&beanworld(&["map", &scenario("jbw-v0.ron"), "--region", "-40,-40,40,40", "--hash"]));
    assert_eq!(embedded, file);
}

#[test]
fn map_stats_items_and_picture_agree() {
    let dir = temp_dir("outputs");
    let (csv, png_path) = (dir.join("items.csv"), dir.join("map.png"));
    let out = stdout(&beanworld(&[
        "map",
        &scenario("jbw-paper.ron"),
        "--region",
        "-64,-64,63,127",
        "--stats",
        "--items",
        csv.to_str().expect("utf-8 path"),
        "--png",
        png_path.to_str().expect("utf-8 path"),
        "--pixels-per-cell",
        "3",
    ]));
    let stats: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(stats["cells"], 128 * 192);
    assert!(stats["patches"].as_u64().expect("patches") >= 6);
    let types = stats["types"].as_object().expect("types");
    assert_eq!(types.len(), 6);
    let rows = std::fs::read_to_string(&csv).expect("csv written");
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("x,y,type"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for (name, t) in types {
        let count = t["count"].as_u64().expect("count");
        assert_eq!(rows.iter().filter(|r| r[2] == name).count() as u64, count, "{name}");
        let density = t["density"].as_f64().expect("density");
        assert!((density - count as f64 / (128.0 * 192.0)).abs() < 1e-12);
    }
    for r in &rows {
        let (x, y): (i64, i64) = (r[0].parse().expect("x"), r[1].parse().expect("y"));
        assert!((-64..=63).contains(&x) && (-64..=127).contains(&y), "item outside the region");
    }
    assert!(rows.iter().any(|r| r[2] == "onion"), "onions are common in the paper world");

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png_path).expect("png")));
    let mut reader = decoder.read_info().expect("a PNG");
    let info = reader.info();
    assert_eq!((info.width, info.height), (128 * 3, 192 * 3));
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut pixels).expect("pixels");
    // The first onion in the CSV is drawn in onion colour at its place (row 0 is the north edge).
    let onion = rows.iter().find(|r| r[2] == "onion").expect("an onion");
    let (x, y): (usize, usize) = (
        (onion[0].parse::<i64>().unwrap_or(0) + 64) as usize,
        (127 - onion[1].parse::<i64>().unwrap_or(0)) as usize,
    );
    let at = ((y * 3 + 1) * 128 * 3 + x * 3 + 1) * 3;
    assert_eq!(&pixels[at..at + 3], &[173, 3, 252], "onion colour (0.68, 0.01, 0.99)");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn validate_summarises_every_shipped_scenario() {
    for name in ["jbw-v0.ron", "jbw-v1.ron", "jbw-paper.ron"] {
        let out = stdout(&beanworld(&["validate", &scenario(name)]));
        assert!(out.starts_with("ok: "), "{out}");
        assert_eq!(out.lines().count(), 1, "one line: {out}");
        assert!(out.contains("banana, onion, jellybean, wall"), "{out}");
    }
    let v1 = stdout(&beanworld(&["validate", &scenario("jbw-v1.ron")]));
    assert!(v1.contains("wall→wall reaches 40 cells, cut at the patch size 32"), "{v1}");
}

fn refused(args: &[&str]) -> String {
    let out = beanworld(args);
    assert_eq!(out.status.code(), Some(1), "should fail cleanly: {out:?}");
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let dir = temp_dir("bad");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, "Scenario(\n  items: [Item(name: \"a\", scent: [0], color: [0, 0, 1])],\n  scent: (decay: 0.6, diffusion: 0.1),\n)\n")
        .expect("write");
    let bad = bad.to_str().expect("utf-8 path");
    let err = refused(&["validate", bad]);
    assert_eq!(
        err.trim(),
        format!(
            "error: {bad}:3:23: `scent.diffusion`: scent would not converge: |decay| + 4·|diffusion| = 1.0000 must be below 1 (decay 0.6, diffusion 0.1)"
        )
    );
    let err = refused(&["map", bad, "--region", "0,0,1,1"]);
    assert!(err.contains(&format!("{bad}:3:23:")), "{err}");
    let err = refused(&["validate", &Path::new(bad).with_extension("missing").display().to_string()]);
    assert!(err.contains("cannot read the scenario"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "the cause once: {err}");
    let err = refused(&["map", "--region", "0,0,100000,100000"]);
    assert!(err.contains("`map` generates at most"), "{err}");
    // A malformed region is a usage error (exit code 2) from the argument parser.
    let out = beanworld(&["map", "--region", "0,0,1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a region as X0,Y0,X1,Y1"));
    std::fs::remove_dir_all(dir).ok();
}

fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn run_to(scenario_file: &str, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args =
        vec!["run", scenario_file, "--steps", "20000", "--seed", "7", "--out", dir.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    stdout(&beanworld(&args));
    summary(dir)
}

#[test]
fn runs_repeat_and_resume_bit_for_bit() {
    let root = temp_dir("runs");
    for name in ["jbw-v0.ron", "crowd.ron"] {
        let file = scenario(name);
        let a = run_to(&file, &root.join(format!("{name}-a")), &[]);
        let b = run_to(&file, &root.join(format!("{name}-b")), &["--snapshot-every", "10000"]);
        assert_eq!(a["trajectory_hash"], b["trajectory_hash"], "{name}");
        assert_eq!(a["world_hash"], b["world_hash"], "{name}");
        let snap = root.join(format!("{name}-b/snapshots/10000.snap"));
        assert!(snap.exists(), "snapshot at step 10000");
        let c = run_to(&file, &root.join(format!("{name}-c")), &["--resume", snap.to_str().expect("utf-8")]);
        assert_eq!(c["steps"], 20000);
        assert_eq!(c["steps_this_run"], 10000);
        assert_eq!(a["trajectory_hash"], c["trajectory_hash"], "{name}: resumed");
        assert_eq!(a["world_hash"], c["world_hash"], "{name}: resumed");
        assert_eq!(a["reward"], c["reward"], "{name}: resumed");
        assert_eq!(a["collected"], c["collected"], "{name}: resumed");
        // Resuming into the original folder keeps its metrics up to the snapshot and redoes the rest.
        let whole = std::fs::read_to_string(root.join(format!("{name}-a/metrics.csv"))).expect("metrics");
        run_to(&file, &root.join(format!("{name}-b")), &["--resume", snap.to_str().expect("utf-8")]);
        let resumed = std::fs::read_to_string(root.join(format!("{name}-b/metrics.csv"))).expect("metrics");
        // (All but the last column, the wall-clock steps per second.)
        let timeless = |text: &str| -> Vec<String> {
            text.lines().map(|l| l.rsplit_once(',').map_or(l, |(kept, _)| kept).to_string()).collect()
        };
        assert!(timeless(&whole) == timeless(&resumed), "{name}: metrics.csv differs after resuming");
        // (A row per agent and one over all of them per interval: crowd writes every 10,000 steps.)
        let intervals = if name == "crowd.ron" { 2 } else { 20 };
        assert_eq!(
            timeless(&whole).len(),
            1 + intervals * (a["agents"].as_u64().expect("agents") as usize + 1)
        );
    }
    let a = summary(&root.join("crowd.ron-a"));
    assert_eq!(a["agents"], 16);
    assert_eq!(a["reward"].as_object().expect("per agent").len(), 16);
    let seed8 = root.join("seed8");
    stdout(&beanworld(&[
        "run",
        &scenario("jbw-v0.ron"),
        "--steps",
        "20000",
        "--seed",
        "8",
        "--out",
        seed8.to_str().expect("utf-8"),
    ]));
    let other = summary(&seed8);
    let v0 = summary(&root.join("jbw-v0.ron-a"));
    assert_ne!(other["trajectory_hash"], v0["trajectory_hash"]);
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn worlds_without_dynamics_are_as_they_were() {
    // Values from before regrowth, drift and events existed: a world without them must not
    // change. A change here changes every existing world and run; it must be deliberate.
    let dir = temp_dir("golden");
    let s = run_to(&scenario("jbw-v0.ron"), &dir, &[]);
    assert_eq!(s["trajectory_hash"], "543d5c9092f48adc412e57271a2a5911");
    let map = stdout(&beanworld(&["map", &scenario("jbw-v0.ron"), "--region", "0,0,255,255", "--hash"]));
    assert_eq!(map.trim(), "3cd926d8c348b4c183ae26c9b7c0fda98b7c92b6bdffe302ef4eb27294311b1a");
    // However many threads sample new patches together, the same world and the same walk.
    for threads in ["1", "3"] {
        let s = run_to(&scenario("jbw-v0.ron"), &dir.join(threads), &["--generation-threads", threads]);
        assert_eq!(s["trajectory_hash"], "543d5c9092f48adc412e57271a2a5911", "{threads} threads");
        let map = beanworld(&[
            "--generation-threads",
            threads,
            "map",
            &scenario("jbw-v0.ron"),
            "--region",
            "0,0,255,255",
            "--hash",
        ]);
        assert_eq!(stdout(&map).trim(), "3cd926d8c348b4c183ae26c9b7c0fda98b7c92b6bdffe302ef4eb27294311b1a");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn run_writes_metrics_and_summary() {
    let dir = temp_dir("metrics");
    let out = stdout(&beanworld(&[
        "run",
        "--steps",
        "300",
        "--out",
        dir.to_str().expect("utf-8"),
        "--rate-window",
        "100",
        "--metrics-every",
        "100",
    ]));
    assert!(out.contains("300 steps"), "{out}");
    let s = summary(&dir);
    for field in ["steps", "seconds", "steps_per_sec", "reward", "collected", "trajectory_hash", "world_hash"]
    {
        assert!(!s[field].is_null(), "summary lacks {field}");
    }
    assert_eq!(s["scenario"], "jbw-v0", "the embedded default");
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics");
    let mut lines = metrics.lines();
    assert_eq!(
        lines.next(),
        Some("step,agent,steps,reward,reward_rate,window_rate,banana,onion,jellybean,wall,steps_per_sec")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let number = |v: &str| v.parse::<f64>().expect("a number");
    // A row for the agent and one over all agents every 100 steps.
    let steps: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        steps,
        [("100", "1"), ("100", "all"), ("200", "1"), ("200", "all"), ("300", "1"), ("300", "all")]
    );
    let total: f64 = rows.iter().filter(|r| r[1] == "1").map(|r| number(r[3])).sum();
    assert_eq!(total, s["reward"]["1"].as_f64().expect("reward"));
    let collected: f64 = rows.iter().filter(|r| r[1] == "all").map(|r| number(r[8])).sum();
    assert_eq!(collected, s["collected"]["jellybean"].as_f64().expect("count"));
    // The window is the last interval: its rate is the interval's reward per step.
    assert_eq!(rows[5][4], rows[5][5]);
    assert!((number(rows[5][4]) - number(rows[5][3]) / 100.0).abs() < 1e-6);
    assert!(rows[1][10].parse::<f64>().is_ok() && rows[0][10].is_empty(), "steps/s on the `all` rows");
    // Per step: the same rewards a step at a time.
    let per_step = dir.join("per-step");
    stdout(&beanworld(&[
        "run",
        "--steps",
        "300",
        "--metrics",
        "per-step",
        "--out",
        per_step.to_str().expect("utf-8"),
    ]));
    let text = std::fs::read_to_string(per_step.join("metrics.csv")).expect("metrics");
    let agent_rows: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[1] == "1")
        .map(|r| number(r[3]))
        .collect();
    assert_eq!((agent_rows.len(), agent_rows.iter().sum::<f64>()), (300, total));
    assert!(dir.join("snapshots/300.snap").exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_everything() {
    let dir = temp_dir("interrupt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_beanworld"))
        .args([
            "run",
            &scenario("crowd.ron"),
            "--steps",
            "100000000",
            "--snapshot-every",
            "1000",
            "--out",
            dir.to_str().expect("utf-8"),
        ])
        .spawn()
        .expect("started");
    // Wait until the run is under way (its first snapshot is written), then interrupt it.
    let metrics = dir.join("metrics.csv");
    for _ in 0..400 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if dir.join("snapshots/1000.snap").exists() {
            break;
        }
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let status = child.wait().expect("exited");
    assert_eq!(status.code(), Some(130));
    let s = summary(&dir);
    assert_eq!(s["interrupted"], true);
    let step = s["steps"].as_u64().expect("steps");
    assert!(step > 0 && step < 100_000_000);
    assert!(dir.join(format!("snapshots/{step}.snap")).exists(), "a final snapshot at step {step}");
    let text = std::fs::read_to_string(&metrics).expect("metrics");
    let last = text.lines().last().expect("rows");
    assert!(last.starts_with(&format!("{step},all,")), "metrics written up to the last step: {last}");
    let snapshots = std::fs::read_dir(dir.join("snapshots")).expect("snapshots").count();
    assert!(snapshots <= 3, "only the newest three snapshots are kept ({snapshots})");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_snapshots_and_unplaceable_agents_are_refused() {
    let dir = temp_dir("bad-runs");
    let d = |name: &str| dir.join(name).display().to_string();
    stdout(&beanworld(&["run", &scenario("jbw-v0.ron"), "--steps", "50", "--out", &d("ok")]));
    let snap = dir.join("ok/snapshots/50.snap");
    let bytes = std::fs::read(&snap).expect("snapshot");

    std::fs::write(dir.join("truncated.snap"), &bytes[..bytes.len() / 2]).expect("write");
    let err = refused(&["run", &scenario("jbw-v0.ron"), "--out", &d("t"), "--resume", &d("truncated.snap")]);
    assert!(err.contains("the snapshot is truncated"), "{err}");

    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    std::fs::write(dir.join("damaged.snap"), &damaged).expect("write");
    let err = refused(&["run", &scenario("jbw-v0.ron"), "--out", &d("t"), "--resume", &d("damaged.snap")]);
    assert!(err.contains("damaged (checksum mismatch)"), "{err}");

    std::fs::write(dir.join("text.snap"), "hello").expect("write");
    let err = refused(&["run", &scenario("jbw-v0.ron"), "--out", &d("t"), "--resume", &d("text.snap")]);
    assert!(err.contains("not a beanworld snapshot"), "{err}");

    let err =
        refused(&["run", &scenario("jbw-v1.ron"), "--out", &d("t"), "--resume", &snap.display().to_string()]);
    assert!(err.contains("made from scenario \"jbw-v0\""), "{err}");
    let err = refused(&[
        "run",
        &scenario("jbw-v0.ron"),
        "--seed",
        "3",
        "--out",
        &d("t"),
        "--resume",
        &snap.display().to_string(),
    ]);
    assert!(err.contains("made with seed 0, not --seed 3"), "{err}");

    // Too many agents for the room asked for: refused at load, with line and column.
    let crowded = dir.join("crowded.ron");
    let text =
        std::fs::read_to_string(scenario("crowd.ron")).expect("read").replace("count: 16", "count: 100");
    std::fs::write(&crowded, text).expect("write");
    let err = refused(&["run", &crowded.display().to_string(), "--out", &d("t")]);
    assert!(
        err.contains(&format!("{}:", crowded.display()))
            && err.contains("cannot place 100 agents within 4 cells"),
        "{err}"
    );

    // Room enough on paper, but every cell holds a wall.
    let walled = dir.join("walled.ron");
    std::fs::write(
        &walled,
        r#"Scenario(
            world: (patch_size: 8, mcmc_iterations: 20000),
            items: [Item(name: "wall", scent: [0], color: [1], required: {"wall": 1}, blocks_movement: true,
                         intensity: Constant(30))],
            vision: (range: 2, agent_color: [1]),
            agents: [Agents(count: 2, spread: 1)],
        )"#,
    )
    .expect("write");
    let err = refused(&["run", &walled.display().to_string(), "--out", &d("t")]);
    assert!(err.contains("agents[0]: cannot place agent 1 of 2 within 1 cells of (0, 0)"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bench_reports_one_json_line() {
    let out = stdout(&beanworld(&[
        "bench",
        &scenario("jbw-v0.ron"),
        "--policy",
        "walk",
        "--agents",
        "4",
        "--steps",
        "500",
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    for field in ["steps_per_sec", "agent_steps_per_sec", "first_step_seconds", "patches"] {
        assert!(report[field].as_f64().expect(field) > 0.0, "{field}");
    }
    let ratio = report["agent_steps_per_sec"].as_f64().unwrap_or(0.0)
        / report["steps_per_sec"].as_f64().unwrap_or(1.0);
    assert!((ratio - 4.0).abs() < 1e-9);
}

#[test]
fn bench_vision_gpu_reports_both_paths() {
    // (The command itself refuses to report when the GPU's first observations differ from the
    // CPU's.)
    let out = stdout(&beanworld(&[
        "bench",
        &scenario("jbw-paper.ron"),
        "--policy",
        "walk",
        "--vision",
        "gpu",
        "--agents",
        "300",
        "--steps",
        "4",
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    for field in ["observations_per_sec", "cpu_observations_per_sec", "steps_per_sec"] {
        assert!(report[field].as_f64().expect(field) > 0.0, "{field}");
    }
    assert!(report["adapter"].as_str().is_some_and(|a| !a.is_empty()));
}

#[test]
fn bench_frames_reports_frames_per_second() {
    let out = stdout(&beanworld(&[
        "bench",
        &scenario("jbw-v0.ron"),
        "--policy",
        "walk",
        "--frames",
        "200x100",
        "--steps",
        "4",
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert!(report["frames_per_sec"].as_f64().expect("frames_per_sec") > 0.0);
    assert_eq!(report["scenario"], "jbw-v0 with 200×104 frames", "whole cells of 8 px");
}

#[test]
fn bound_solves_boxes_and_averages_them() {
    let out = stdout(&beanworld(&["bound", "--maps", "4", "--side", "12", "--threads", "2", "--json"]));
    let lines: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    assert_eq!(lines.len(), 5, "four boxes and the summary");
    let seeds: Vec<u64> = lines[..4].iter().map(|l| l["seed"].as_u64().expect("seed")).collect();
    assert_eq!(seeds, [1, 2, 3, 4], "reported in order whatever thread solved them");
    let rates: Vec<f64> = lines[..4]
        .iter()
        .filter(|l| l["open"] == true)
        .map(|l| {
            let rate = l["rate"].as_f64().expect("rate");
            let (beans, cost) = (l["beans"].as_f64().expect("beans"), l["cost"].as_f64().expect("cost"));
            assert!((rate - beans / (cost + 1.0)).abs() < 1e-12, "{rate}");
            rate
        })
        .collect();
    let summary = &lines[4];
    assert_eq!(summary["solved"].as_u64(), Some(rates.len() as u64));
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    assert!((summary["mean_rate"].as_f64().expect("mean") - mean).abs() < 1e-12);
    // The same boxes on one thread give the same answers.
    let without_time = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                v.as_object_mut().map(|o| o.remove("seconds"));
                v
            })
            .collect()
    };
    let one = stdout(&beanworld(&["bound", "--maps", "4", "--side", "12", "--json"]));
    assert_eq!(without_time(&one), without_time(&out));
}

#[test]
fn plot_draws_runs_into_a_png() {
    let dir = temp_dir("plot");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for (d, seed) in [(&a, "1"), (&b, "2")] {
        stdout(&beanworld(&[
            "run",
            &scenario("story.ron"),
            "--steps",
            "2500",
            "--seed",
            seed,
            "--out",
            d.to_str().expect("utf-8"),
        ]));
    }
    let out = stdout(&beanworld(&["plot", a.to_str().expect("utf-8")]));
    assert_eq!(out.trim(), a.join("plot.png").display().to_string());
    let both = dir.join("both.png");
    stdout(&beanworld(&[
        "plot",
        a.to_str().expect("utf-8"),
        b.to_str().expect("utf-8"),
        "--out",
        both.to_str().expect("utf-8"),
    ]));
    for png_path in [a.join("plot.png"), both] {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png_path).expect("png")));
        let mut reader = decoder.read_info().expect("a PNG");
        assert_eq!((reader.info().width, reader.info().height), (1200, 800));
        let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
        reader.next_frame(&mut pixels).expect("pixels");
        let drawn = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(drawn > 10_000, "lines, axes and text were drawn ({drawn} pixels)");
    }
    std::fs::write(dir.join("metrics.csv"), "not,metrics\n").expect("write");
    let err = refused(&["plot", dir.to_str().expect("utf-8")]);
    assert!(err.contains("not a beanworld metrics file"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn baselines_run_on_agent_threads_with_the_same_results() {
    let dir = temp_dir("baselines");
    let run = |threads: &str, out: &str| {
        let out = dir.join(out);
        stdout(&beanworld(&[
            "run",
            &scenario("crowd.ron"),
            "--steps",
            "600",
            "--agent",
            "greedy-visual",
            "--agent-threads",
            threads,
            "--metrics-every",
            "100",
            "--out",
            out.to_str().expect("utf-8"),
        ]));
        summary(&out)
    };
    let one = run("1", "one");
    let four = run("4", "four");
    assert_eq!(one["trajectory_hash"], four["trajectory_hash"]);
    assert_eq!(one["agent"], "greedy-visual");
    // (In the classic world agents are drawn in the jelly-bean colour, spec §11 #8, so a crowd of
    // greedy agents mostly chases itself; the point here is that threads change nothing.)
    assert_eq!(one["agents"], 16);
    assert!(dir.join("one/reward_rate.png").exists());
    let err = refused(&[
        "run",
        &scenario("crowd.ron"),
        "--agent",
        "clever",
        "--out",
        dir.join("x").to_str().expect("utf-8"),
    ]);
    assert!(
        err.contains("unknown agent \"clever\"; expected one of random, greedy-visual, greedy-scent"),
        "{err}"
    );
    // Resuming keeps the agents' state.
    let resumed = dir.join("resumed");
    stdout(&beanworld(&[
        "run",
        &scenario("crowd.ron"),
        "--steps",
        "300",
        "--agent",
        "greedy-visual",
        "--out",
        resumed.to_str().expect("utf-8"),
    ]));
    let snap = resumed.join("snapshots/300.snap");
    stdout(&beanworld(&[
        "run",
        &scenario("crowd.ron"),
        "--steps",
        "600",
        "--agent",
        "greedy-visual",
        "--resume",
        snap.to_str().expect("utf-8"),
        "--out",
        resumed.to_str().expect("utf-8"),
    ]));
    assert_eq!(summary(&resumed)["trajectory_hash"], one["trajectory_hash"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn record_writes_frames_drawn_on_the_gpu() {
    let dir = temp_dir("record");
    let out = stdout(&beanworld(&[
        "record",
        &scenario("jbw-paper.ron"),
        "--steps",
        "40",
        "--every",
        "20",
        "--size",
        "160x96",
        "--follow",
        "1",
        "--out",
        dir.to_str().expect("utf-8"),
    ]));
    assert!(out.starts_with("3 frames of 20×12 cells"), "{out}");
    for step in [0, 20, 40] {
        let path = dir.join(format!("frame_{step:07}.png"));
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).expect("frame")));
        let reader = decoder.read_info().expect("a PNG");
        assert_eq!((reader.info().width, reader.info().height), (160, 96));
    }
    let out = beanworld(&[
        "record",
        &scenario("jbw-paper.ron"),
        "--follow",
        "9",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--follow 9: no agent has this id"));
    std::fs::remove_dir_all(dir).ok();
}

/// One viewer test at a time: they draw on a software adapter on few cores, and the key test
/// times its presses.
#[cfg(feature = "window")]
static DISPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A virtual X display (Xvfb, as `.ci/run` installs it) for the viewer tests, stopped when
/// dropped. The server picks a free display number itself (`-displayfd`) and writes it once it
/// listens, so two displays never race for a number. `-noreset`: by default the server resets
/// when its last client leaves, and refuses connections meanwhile; the key test's `xdotool`
/// polling and the viewer's start once met there, and the viewer found no display.
#[cfg(feature = "window")]
struct VirtualDisplay {
    server: std::process::Child,
    name: String,
    _turn: std::sync::MutexGuard<'static, ()>,
}

#[cfg(feature = "window")]
impl VirtualDisplay {
    fn start() -> Self {
        use std::io::BufRead;
        let turn = DISPLAY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let log = std::env::temp_dir().join(format!("beanworld-cli-xvfb-{}.log", std::process::id()));
        let mut server = Command::new("Xvfb")
            .args(["-displayfd", "1", "-noreset", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("Xvfb's log"))
            .spawn()
            .unwrap_or_else(|e| panic!("the viewer tests need Xvfb (Debian: apt-get install xvfb): {e}"));
        let mut number = String::new();
        let said = std::io::BufReader::new(server.stdout.take().expect("piped")).read_line(&mut number);
        let number = number.trim();
        if said.is_err() || number.is_empty() {
            server.kill().ok();
            server.wait().ok();
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("Xvfb gave no display: {log}");
        }
        std::fs::remove_file(&log).ok();
        VirtualDisplay { server, name: format!(":{number}"), _turn: turn }
    }

    /// `program` with this display in its environment.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("DISPLAY", &self.name)
            .env_remove("XAUTHORITY")
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        command
    }
}

#[cfg(feature = "window")]
impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        // SIGTERM, so that the server removes its lock file and socket.
        let asked = Command::new("kill").arg(self.server.id().to_string()).status();
        if !asked.is_ok_and(|s| s.success()) {
            self.server.kill().ok();
        }
        self.server.wait().ok();
    }
}

/// Runs `beanworld` on a virtual X display.
#[cfg(feature = "window")]
fn beanworld_on_a_display(args: &[&str]) -> Output {
    let display = VirtualDisplay::start();
    display.command(env!("CARGO_BIN_EXE_beanworld")).args(args).output().expect("the binary runs")
}

#[test]
#[cfg(feature = "window")]
fn watch_shows_the_world_around_the_followed_agent_and_does_not_change_the_run() {
    let dir = temp_dir("watch");
    let (watched, plain) = (dir.join("watched"), dir.join("plain"));
    let shot = dir.join("shot.png");
    let v0 = scenario("jbw-v0.ron");
    let out = beanworld_on_a_display(&[
        "watch",
        &v0,
        "--steps",
        "50",
        "--out",
        watched.to_str().expect("utf-8"),
        "--size",
        "800x600",
        "--pixels-per-cell",
        "16",
        "--screenshot",
        shot.to_str().expect("utf-8"),
        "--exit",
    ]);
    let said = stdout(&out);
    // Watched or not, the same trajectory.
    stdout(&beanworld(&["run", &v0, "--steps", "50", "--out", plain.to_str().expect("utf-8")]));
    assert_eq!(summary(&watched)["trajectory_hash"], summary(&plain)["trajectory_hash"], "{said}");
    assert_eq!(summary(&watched)["world_hash"], summary(&plain)["world_hash"]);
    // The screenshot: the window's size, the followed agent (the first) in the middle at 16
    // pixels a cell, and around it the colours the world has there.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).expect("screenshot")));
    let mut reader = decoder.read_info().expect("a PNG");
    let (w, h) = (reader.info().width, reader.info().height);
    assert_eq!((w, h), (800, 600));
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let frame = reader.next_frame(&mut pixels).expect("pixels");
    assert_eq!(frame.color_type, png::ColorType::Rgba);
    let scenario_file = beanworld_sim::Scenario::load(Path::new(&v0)).expect("v0");
    let (sim, _): (beanworld_sim::Simulation, beanworld_agents::session::Extra) =
        beanworld_sim::snapshot::load(&watched.join("snapshots/50.snap"), &scenario_file)
            .expect("the last snapshot");
    let me = sim.agents()[0].position;
    let items = &sim.config().items;
    let (mut checked, mut items_seen) = (0, 0);
    for dy in -6i64..=6 {
        for dx in -8i64..=8 {
            let cell = beanworld_sim::Cell::new(me.x + dx, me.y + dy);
            if sim.agents().iter().any(|a| a.position == cell) {
                continue;
            }
            let expected = match sim.world().item_type_at(cell) {
                Some(k) => {
                    items_seen += 1;
                    beanworld_render::frame::rgba(&items[k].color)
                }
                None => beanworld_render::frame::BACKGROUND,
            };
            let (px, py) = (400 + dx * 16, 300 - dy * 16);
            let at = ((py as u32 * w + px as u32) * 4) as usize;
            let got = &pixels[at..at + 3];
            let close = got.iter().zip(&expected).all(|(&g, &e)| g.abs_diff(e) <= 2);
            assert!(
                close,
                "cell ({}, {}) at pixel ({px}, {py}): {got:?}, the world says {expected:?}",
                cell.x, cell.y
            );
            checked += 1;
        }
    }
    assert!(checked > 200 && items_seen > 0, "{checked} cells checked, {items_seen} of them items");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
#[cfg(feature = "window")]
fn a_served_run_is_watched_left_and_watched_again_unchanged_and_refuses_garbage() {
    use std::io::{BufRead, Read, Write};
    let dir = temp_dir("serve");
    let (served, plain) = (dir.join("served"), dir.join("plain"));
    let crowd = scenario("crowd.ron");
    let mut run = Command::new(env!("CARGO_BIN_EXE_beanworld"))
        .args([
            "run",
            &crowd,
            "--steps",
            "100000000",
            "--serve",
            "0",
            "--out",
            served.to_str().expect("utf-8"),
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("started");
    // The run says where it serves, then logs viewers coming and going.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    {
        let (log, stderr) = (std::sync::Arc::clone(&log), run.stderr.take().expect("stderr"));
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("serving views on ") {
                    let _ = addr_tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
                log.lock().expect("log").push(line);
            }
        });
    }
    let addr = addr_rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the address");
    // Garbage: the connection is dropped, the run goes on.
    let mut raw = std::net::TcpStream::connect(&addr).expect("connects");
    let mut hello = [0u8; 8];
    raw.read_exact(&mut hello).expect("a greeting");
    assert_eq!(&hello, b"BWVIEW01");
    raw.write_all(b"\xff\xff\xff\x7fnot a frame at all").expect("sent");
    raw.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let mut rest = Vec::new();
    let _ = raw.read_to_end(&mut rest);
    // Attach, leave, attach again.
    for k in 1..=2 {
        let shot = dir.join(format!("attached-{k}.png"));
        let out = beanworld_on_a_display(&[
            "watch",
            "--attach",
            &addr,
            "--size",
            "640x480",
            "--screenshot",
            shot.to_str().expect("utf-8"),
            "--exit",
        ]);
        stdout(&out);
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).expect("screenshot")));
        let reader = decoder.read_info().expect("a PNG");
        assert_eq!((reader.info().width, reader.info().height), (640, 480));
    }
    Command::new("kill").args(["-INT", &run.id().to_string()]).status().expect("kill");
    assert_eq!(run.wait().expect("exited").code(), Some(130));
    let steps = summary(&served)["steps"].as_u64().expect("steps");
    let log = log.lock().expect("log").join("\n");
    assert!(log.contains("refused: a frame of 2147483647 bytes"), "{log}");
    assert_eq!(log.matches(" attached").count(), 3, "{log}");
    // Served and watched, or neither: the same run.
    stdout(&beanworld(&[
        "run",
        &crowd,
        "--steps",
        &steps.to_string(),
        "--out",
        plain.to_str().expect("utf-8"),
    ]));
    assert_eq!(summary(&served)["trajectory_hash"], summary(&plain)["trajectory_hash"]);
    assert_eq!(summary(&served)["world_hash"], summary(&plain)["world_hash"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
#[cfg(feature = "window")]
fn keys_pause_step_and_take_screenshots() {
    // Real key presses (xdotool) into the window under Xvfb: Space pauses, P saves
    // `screenshot-<step>.png` into --out, N takes one step.
    let dir = temp_dir("keys");
    let script = format!(
        r#"set -u
"{bin}" watch "{scenario}" --steps 100000000 --out "{dir}" --size 640x480 &
pid=$!
for i in $(seq 150); do
    w=$(xdotool search --name beanworld 2>/dev/null | head -1)
    [ -n "$w" ] && break
    sleep 0.2
done
sleep 2
xdotool windowfocus "$w"; sleep 0.5
xdotool key space; sleep 1.5
xdotool key p; sleep 2
xdotool key p; sleep 2
xdotool key n; sleep 1.5
xdotool key p; sleep 2
kill -INT $pid
wait $pid
echo "watch exited with $?"
"#,
        bin = env!("CARGO_BIN_EXE_beanworld"),
        scenario = scenario("jbw-v0.ron"),
        dir = dir.display()
    );
    let display = VirtualDisplay::start();
    let out = display
        .command("sh")
        .args(["-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("the key test needs sh and xdotool (Debian: xdotool): {e}"));
    drop(display);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("watch exited with 130"), "Ctrl-C ends the run as in `run`: {said}");
    let mut steps: Vec<u64> = std::fs::read_dir(&dir)
        .expect("out")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("screenshot-")?.strip_suffix(".png")?.parse().ok()
        })
        .collect();
    steps.sort_unstable();
    // Paused: both P presses saw the same step; N: exactly one more.
    assert_eq!(steps.len(), 2, "screenshots at {steps:?}: {said}");
    assert_eq!(steps[1], steps[0] + 1, "{steps:?}");
    let stopped = summary(&dir)["steps"].as_u64().expect("steps");
    assert_eq!(stopped, steps[1], "the run stayed paused after the single step");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_ppo_learner_resumes_exactly_from_a_snapshot_taken_mid_rollout() {
    // Updates every 512 steps; the snapshot at 700 falls between two, with a reward still owed
    // to the learner for its last action.
    let dir = temp_dir("ppo");
    let (whole, resumed) = (dir.join("whole"), dir.join("resumed"));
    let paper = scenario("jbw-paper.ron");
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["run", &paper, "--agent", "ppo", "--steps", "1300", "--seed", "3"];
        args.extend_from_slice(&["--out", out.to_str().expect("utf-8")]);
        args.extend_from_slice(extra);
        stdout(&beanworld(&args));
        summary(out)
    };
    let a = run(&whole, &["--snapshot-every", "700"]);
    let snap = whole.join("snapshots/700.snap");
    let b = run(&resumed, &["--resume", snap.to_str().expect("utf-8")]);
    assert_eq!(a["trajectory_hash"], b["trajectory_hash"]);
    assert_eq!(a["world_hash"], b["world_hash"]);
    assert_eq!(a["agent"], "ppo");
    std::fs::remove_dir_all(dir).ok();
}

/// Runs `scenario` until `steps` into `dir/whole` with a snapshot at `at`, then from that
/// snapshot into `dir/resumed`; returns both summaries.
fn whole_and_resumed(
    dir: &Path,
    scenario: &str,
    steps: u64,
    at: u64,
    extra: &[&str],
) -> [serde_json::Value; 2] {
    let (whole, resumed) = (dir.join("whole"), dir.join("resumed"));
    let (steps, at) = (steps.to_string(), at.to_string());
    let run = |out: &Path, more: &[&str]| {
        let mut args = vec!["run", scenario, "--steps", &steps, "--out", out.to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        args.extend_from_slice(more);
        stdout(&beanworld(&args));
        summary(out)
    };
    let a = run(&whole, &["--snapshot-every", &at, "--keep-snapshots", "0"]);
    let snap = whole.join(format!("snapshots/{at}.snap"));
    let b = run(&resumed, &["--resume", snap.to_str().expect("utf-8")]);
    [a, b]
}

/// The lines of DIR/learner.jsonl as JSON, without their timing.
fn learner_lines(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("learner.jsonl")).expect("learner.jsonl");
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            assert!(v["steps_per_sec"].as_f64().is_some_and(|r| r > 0.0), "{v}");
            v.as_object_mut().expect("an object").remove("steps_per_sec");
            v
        })
        .collect()
}

#[test]
fn a_dqn_learner_resumes_exactly_with_its_replay_buffer() {
    // Training starts at step 2,000 and the target network is refreshed every 2,000 steps: the
    // snapshot at 2,300 holds a trained network, a stale target and a full replay ring.
    let dir = temp_dir("dqn");
    let [a, b] =
        whole_and_resumed(&dir, &scenario("jbw-v0.ron"), 4100, 2300, &["--agent", "dqn", "--seed", "2"]);
    assert_eq!(a["trajectory_hash"], b["trajectory_hash"]);
    assert_eq!(a["world_hash"], b["world_hash"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sixteen_agents_sharing_one_network_resume_exactly() {
    // One update when the sixteen rollouts hold 512 steps each; the snapshot at 600 falls after it.
    let dir = temp_dir("shared");
    let shared = scenario("experiments/crowd-shared.ron");
    let [a, b] = whole_and_resumed(&dir, &shared, 800, 600, &["--agent-threads", "2"]);
    assert_eq!(a["trajectory_hash"], b["trajectory_hash"]);
    assert_eq!(a["agents"], 16);
    // The same world with sixteen independent learners behaves differently.
    let independent = dir.join("independent");
    let out = independent.to_str().expect("utf-8");
    stdout(&beanworld(&["run", &shared, "--steps", "800", "--agent", "ppo", "--out", out]));
    assert_ne!(summary(&independent)["trajectory_hash"], a["trajectory_hash"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn learners_with_memory_and_the_task_in_view_resume_exactly() {
    // The cyclical world with a reward-aware LSTM learner (one update every 128 steps), and a
    // team of sixteen sharing one (an update every 64 steps per member): the snapshots fall
    // between updates, with recurrent states and half-filled rollouts to carry. Continual
    // backprop's units (4 Adam steps an update) mature after the second update, when the
    // snapshot is taken, and are replaced after the third and fourth: their record is carried.
    let dir = temp_dir("memory");
    let cyclical = scenario("experiments/cyclical.ron");
    let agent = [
        "--agent",
        "ppo-scent(lstm: true, reward_aware: true, rollout: 128, continual_backprop: (replacement_rate: 0.01, maturity: 8))",
    ];
    let [a, b] = whole_and_resumed(&dir, &cyclical, 600, 300, &agent);
    assert_eq!(a["trajectory_hash"], b["trajectory_hash"]);
    // learner.jsonl has a line per update; the resumed run's are the whole run's after 300.
    let whole = learner_lines(&dir.join("whole"));
    assert_eq!(whole.len(), 4, "{whole:?}");
    let replaced: Vec<u64> = whole.iter().map(|l| l["replaced"].as_u64().unwrap_or(99)).collect();
    assert!(replaced[..2] == [0, 0] && replaced[2] > 0 && replaced[3] > 0, "{replaced:?}");
    for line in &whole {
        assert!(line["agent"].is_u64() && line["samples"] == 128, "{line}");
        for key in ["policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"] {
            assert!(line[key].as_f64().is_some_and(f64::is_finite), "{key} in {line}");
        }
    }
    let after: Vec<serde_json::Value> =
        whole.iter().filter(|l| l["step"].as_u64() > Some(300)).cloned().collect();
    assert_eq!(learner_lines(&dir.join("resumed")), after);
    // Resumed into its own folder, the run keeps the lines up to the snapshot and writes the same.
    let (into, snap) = (dir.join("whole"), dir.join("whole/snapshots/300.snap"));
    let (into, snap) = (into.to_str().expect("utf-8"), snap.to_str().expect("utf-8"));
    stdout(&beanworld(
        &[&["run", &cyclical, "--steps", "600", "--out", into, "--resume", snap], &agent[..]].concat(),
    ));
    assert_eq!(learner_lines(&dir.join("whole")), whole);
    // The plasticity diagnostics come with every update, resumed exactly with the rest, and a
    // field of them is drawn per update; a field no line has is refused, the fields listed.
    assert!(
        whole
            .iter()
            .all(|l| l["srank"].as_u64().is_some_and(|r| r > 0) && l["dormant_by_layer"]["s1"].is_f64())
    );
    let picture = dir.join("srank.png");
    stdout(&beanworld(&["plot", into, "--learner", "srank", "--out", picture.to_str().expect("utf-8")]));
    assert!(std::fs::metadata(&picture).is_ok_and(|m| m.len() > 1000));
    let err = refused(&["plot", into, "--learner", "dormant_by_layer/c9"]);
    assert!(
        err.contains("no line has a number at \"dormant_by_layer/c9\"") && err.contains("srank"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
    let shared = scenario("experiments/crowd-shared.ron");
    let team = ["--agent", "ppo-shared-scent(lstm: true, rollout: 64)"];
    let [c, d] = whole_and_resumed(&dir, &shared, 200, 100, &team);
    assert_eq!(c["trajectory_hash"], d["trajectory_hash"]);
    assert_ne!(c["trajectory_hash"], a["trajectory_hash"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn fresh_agents_go_on_in_a_snapshots_world_without_its_agents() {
    let dir = temp_dir("fresh");
    let v0 = scenario("jbw-v0.ron");
    let at = |name: &str| dir.join(name).display().to_string();
    let learner = ["--agent", "ppo-scent(rollout: 64)", "--seed", "3"];
    stdout(&beanworld(
        &[&["run", &v0, "--steps", "300", "--snapshot-every", "200", "--out", &at("life")], &learner[..]]
            .concat(),
    ));
    let snap = at("life/snapshots/200.snap");
    // The same learner anew, twice: the same run; not the life's own continuation.
    let fresh = |out: &str, agent: &str| {
        stdout(&beanworld(&[
            "run",
            &v0,
            "--steps",
            "300",
            "--resume",
            &snap,
            "--fresh-agents",
            "--agent",
            agent,
            "--out",
            &at(out),
        ]));
        summary(&dir.join(out))
    };
    let (a, b) = (fresh("a", "ppo-scent(rollout: 64)"), fresh("b", "ppo-scent(rollout: 64)"));
    assert_eq!(a["trajectory_hash"], b["trajectory_hash"]);
    stdout(&beanworld(&[
        "run",
        &v0,
        "--steps",
        "300",
        "--resume",
        &snap,
        "--agent",
        "ppo-scent(rollout: 64)",
        "--out",
        &at("same"),
    ]));
    assert_ne!(
        a["world_hash"],
        summary(&dir.join("same"))["world_hash"],
        "the life's learner goes on otherwise"
    );
    // Another agent than the snapshot's may take over; without --fresh-agents it is refused.
    assert_eq!(fresh("greedy", "greedy-scent")["steps"], 300);
    let err = refused(&[
        "run",
        &v0,
        "--steps",
        "300",
        "--resume",
        &snap,
        "--agent",
        "greedy-scent",
        "--out",
        &at("x"),
    ]);
    assert!(err.contains("resume with the same --agent"), "{err}");
    let out = beanworld(&["run", &v0, "--fresh-agents"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--resume"), "{out:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_teacher_steers_the_world_and_resumes_exactly() {
    let dir = temp_dir("teacher");
    // The classic world, regrowing quickly around its walker, with a teacher that thins jelly
    // beans while the walker does worse than an impossible band: the difficulty falls every 50
    // steps, and from step 400 on the task is full again.
    let text = std::fs::read_to_string(scenario("jbw-v0.ron")).expect("readable");
    let text = text.trim_end().strip_suffix(')').expect("a scenario").to_string()
        + "    dynamics: (regrowth: (radius: 1, interval: 25, proposals: 2000)),\n"
        + "    teacher: Adaptive(every: 50, band: (5.0, 9.0), step: 0.25, start: 1.0,\n        knobs: [Knob(param: \"jellybean.intensity\", easy: -4.0, hard: 1.5)], until: 400),\n)\n";
    let taught = dir.join("taught.ron");
    std::fs::write(&taught, text).expect("written");
    let taught = taught.to_str().expect("utf-8");
    let [a, b] = whole_and_resumed(&dir, taught, 500, 120, &[]);
    assert_eq!(a["trajectory_hash"], b["trajectory_hash"]);
    assert_eq!(a["world_hash"], b["world_hash"]);
    assert_eq!(a["difficulty"], 1.0);
    let history = std::fs::read_to_string(dir.join("whole/teacher.csv")).expect("teacher.csv");
    assert_eq!(history, "step,difficulty\n1,1\n51,0.75\n101,0.5\n151,0.25\n201,0\n400,1\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("resumed/teacher.csv")).expect("teacher.csv"),
        "step,difficulty\n1,1\n51,0.75\n101,0.5\n151,0.25\n201,0\n400,1\n"
    );
    // Without the teacher the walkers meet a different world.
    let plain = dir.join("plain");
    stdout(&beanworld(&[
        "run",
        taught,
        "--steps",
        "500",
        "--no-teacher",
        "--out",
        plain.to_str().expect("utf-8"),
    ]));
    assert_ne!(summary(&plain)["world_hash"], a["world_hash"]);
    assert!(!plain.join("teacher.csv").exists());
    // Resuming a taught run without its teacher is refused with the reason.
    let snap = dir.join("whole/snapshots/120.snap");
    let out = beanworld(&[
        "run",
        taught,
        "--steps",
        "500",
        "--no-teacher",
        "--resume",
        snap.to_str().expect("utf-8"),
        "--out",
        plain.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("taken with a teacher; resume without --no-teacher"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn recovery_measures_every_phase_of_a_cyclical_run() {
    // The classic world, its greedy walker rewarded for jelly beans and then for nothing, in
    // turn every 300 steps: 1,000 steps make three whole cycles and a stub of 100 steps.
    let dir = temp_dir("recovery");
    let text = std::fs::read_to_string(scenario("jbw-v0.ron")).expect("readable").replace(
        "task: Fixed(Collect(item: \"jellybean\", value: 1)),",
        "task: Cyclical([(Collect(item: \"jellybean\", value: 1), 300), (Zero, 300)]),",
    );
    assert!(text.contains("Cyclical"), "the task line changed");
    let file = dir.join("cycles.ron");
    std::fs::write(&file, text).expect("written");
    let run = dir.join("run");
    let out = run.to_str().expect("utf-8");
    let file = file.to_str().expect("utf-8");
    stdout(&beanworld(&[
        "run",
        file,
        "--steps",
        "1000",
        "--agent",
        "greedy-visual",
        "--metrics",
        "per-step",
        "--out",
        out,
    ]));
    let table = stdout(&beanworld(&["recovery", out, "--early", "150", "--window", "50"]));
    assert!(table.contains("phase"), "{table}");
    let csv = std::fs::read_to_string(run.join("recovery.csv")).expect("recovery.csv");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    // Phases start at 1, 300, 600 and 900 (the schedule's time is the step's end); the stub from
    // step 900 is shorter than --early and left out.
    let starts: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(starts, ["1", "300", "600"], "{csv}");
    // Jelly-bean phases earn something, the others nothing; recovery only where there is a rate.
    let early = |k: usize| rows[k][2].parse::<f64>().expect("a number");
    assert!(early(0) > 0.0 && early(2) > 0.0 && early(1) == 0.0, "{csv}");
    assert!(!rows[0][4].is_empty() && rows[1][4].is_empty(), "{csv}");
    let png = std::fs::read(run.join("recovery.png")).expect("recovery.png");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_resumed_run_takes_its_seed_and_metric_sums_from_the_snapshot() {
    let dir = temp_dir("resume-seed");
    let d = |name: &str| dir.join(name).display().to_string();
    let v0 = scenario("jbw-v0.ron");
    fn with<'a>(v0: &'a str, more: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["run", v0, "--steps", "2500"];
        args.extend_from_slice(more);
        args
    }
    let run = |more: &[&str]| with(&v0, more).iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let call = |args: Vec<String>| beanworld(&args.iter().map(String::as_str).collect::<Vec<_>>());
    stdout(&call(run(&["--seed", "9", "--snapshot-every", "1250", "--out", &d("whole")])));
    // The snapshot falls in the middle of an interval: the sums so far travel in it.
    let snap = d("whole/snapshots/1250.snap");
    stdout(&call(run(&["--resume", &snap, "--out", &d("resumed")])));
    let (whole, resumed) = (summary(&dir.join("whole")), summary(&dir.join("resumed")));
    assert_eq!(resumed["seed"], 9, "the seed comes from the snapshot");
    assert_eq!(whole["trajectory_hash"], resumed["trajectory_hash"]);
    let rows = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join(name).join("metrics.csv")).expect("metrics");
        text.lines().map(|l| l.rsplit_once(',').map_or(l, |(kept, _)| kept).to_string()).collect()
    };
    let (whole_rows, resumed_rows) = (rows("whole"), rows("resumed"));
    // The resumed run writes the rows from its snapshot's step on: those of steps 2000 and 2500.
    assert_eq!(resumed_rows[1..], whole_rows[whole_rows.len() - 4..], "the same rows after resuming");
    let refused = |args: Vec<String>| refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = refused(run(&["--seed", "8", "--resume", &snap, "--out", &d("other")]));
    assert!(err.contains("made with seed 9, not --seed 8"), "{err}");
    let err = refused(run(&["--metrics-every", "500", "--resume", &snap, "--out", &d("other")]));
    assert!(err.contains("every 1000 steps, not 500; resume with --metrics-every 1000"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn agent_settings_in_a_scenario_are_checked_where_they_are_written() {
    let dir = temp_dir("settings");
    let v0 = std::fs::read_to_string(scenario("jbw-v0.ron")).expect("readable");
    let with_policy = |policy: &str| {
        let text = v0.replacen(
            "agents: [",
            &format!("agents: [Agents(count: 1, position: (9, 9), policy: {policy}),\n    "),
            1,
        );
        assert!(text != v0, "the agents line changed");
        let file = dir.join("agent.ron");
        std::fs::write(&file, &text).expect("written");
        let line = text.lines().position(|l| l.contains("(9, 9)")).expect("the policy") + 1;
        (file.display().to_string(), line, text.lines().nth(line - 1).expect("line").to_string())
    };
    // Structured settings: a misspelt field is placed at its line and column in the file.
    let (file, line, text) = with_policy("Learner(name: \"ppo-scent\", settings: (lstm: true, rolout: 64))");
    let col = text.find("rolout").expect("the field") + 1;
    let err = refused(&["validate", &file]);
    assert!(err.contains(&format!("{file}:{line}:{col}: the settings of agent \"ppo-scent\"")), "{err}");
    assert!(err.contains("rolout"), "{err}");
    let err = refused(&["run", &file, "--steps", "10", "--out", &dir.join("out").display().to_string()]);
    assert!(err.contains(&format!("{file}:{line}:{col}:")), "{err}");
    // The settings inside the name, as older files write them: the same place.
    let (file, line, text) = with_policy("Agent(\"ppo-scent(lstm: true, rolout: 64)\")");
    let col = text.find("rolout").expect("the field") + 1;
    let err = refused(&["validate", &file]);
    assert!(err.contains(&format!("{file}:{line}:{col}:")), "{err}");
    // Good settings pass, and an unknown field of `Agent` itself is refused by the parser.
    let (file, _, _) = with_policy("Learner(name: \"ppo-scent\", settings: (lstm: true))");
    assert!(stdout(&beanworld(&["validate", &file])).starts_with("ok:"));
    let (file, line, _) = with_policy("Learner(name: \"ppo-scent\", setings: (lstm: true))");
    let err = refused(&["validate", &file]);
    assert!(err.contains(&format!("{file}:{line}:")) && err.contains("setings"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_recorded_run_replays_to_the_same_hashes_without_its_agents() {
    let dir = temp_dir("replay");
    let d = |name: &str| dir.join(name).display().to_string();
    // An outside-driven run whose teacher sets the onion density (at the start, through control
    // messages: the log records them).
    let taught = scenario("experiments/seasons-taught.ron");
    let run = |more: &[&str]| {
        let mut args = vec!["run", taught.as_str(), "--steps", "3000", "--agent", "greedy-visual"];
        args.extend_from_slice(more);
        stdout(&beanworld(&args))
    };
    run(&["--record-actions", &d("whole.actions"), "--snapshot-every", "1500", "--out", &d("whole")]);
    let whole = summary(&dir.join("whole"));
    assert!(
        std::fs::read_to_string(dir.join("whole/teacher.csv")).expect("teacher.csv").lines().count() >= 2,
        "the teacher set the world's parameter"
    );
    let replayed = stdout(&beanworld(&["replay", &d("whole.actions")]));
    let hash = |key: &str| whole[key].as_str().expect("a hash").to_string();
    assert!(replayed.starts_with("3000 steps of"), "{replayed}");
    assert!(replayed.contains(&format!("trajectory {}", hash("trajectory_hash"))), "{replayed}");
    assert!(replayed.contains(&format!("world {}", hash("world_hash"))), "{replayed}");
    // A resumed run continues its log; the log of both halves replays as the whole.
    std::fs::create_dir_all(dir.join("half")).expect("dir");
    let first = std::fs::read(d("whole.actions")).expect("log");
    let args = ["--record-actions", &d("half.actions"), "--out", &d("half")];
    stdout(&beanworld(
        &[&["run", taught.as_str(), "--steps", "1500", "--agent", "greedy-visual"], &args[..]].concat(),
    ));
    run(&[
        "--resume",
        &d("half/snapshots/1500.snap"),
        "--record-actions",
        &d("half.actions"),
        "--out",
        &d("half"),
    ]);
    let halves = stdout(&beanworld(&["replay", &d("half.actions")]));
    assert_eq!(halves, replayed, "two halves replay as the whole");
    // Damaged logs are refused with a reason.
    let mut damaged = first.clone();
    let at = damaged.len() - 10;
    damaged[at] ^= 1;
    std::fs::write(d("damaged.actions"), damaged).expect("write");
    let err = refused(&["replay", &d("damaged.actions")]);
    assert!(err.contains("the action log is damaged in frame"), "{err}");
    std::fs::write(d("cut.actions"), &first[..first.len() - 3]).expect("write");
    assert!(refused(&["replay", &d("cut.actions")]).contains("cut short"));
    // Continuing a log of another run is refused.
    let err = refused(&[
        "run",
        &scenario("jbw-v0.ron"),
        "--steps",
        "3000",
        "--resume",
        &d("half/snapshots/1500.snap"),
        "--record-actions",
        &d("whole.actions"),
        "--out",
        &d("other"),
    ]);
    assert!(err.contains("made from scenario") || err.contains("another scenario"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
#[cfg(feature = "window")]
fn watch_shows_the_replay_of_an_action_log() {
    let dir = temp_dir("watch-replay");
    let log = dir.join("run.actions").display().to_string();
    let out = dir.join("run").display().to_string();
    let v0 = scenario("jbw-v0.ron");
    stdout(&beanworld(&[
        "run",
        &v0,
        "--steps",
        "60",
        "--agent",
        "greedy-visual",
        "--record-actions",
        &log,
        "--out",
        &out,
    ]));
    let shot = dir.join("shot.png");
    let said = stdout(&beanworld_on_a_display(&[
        "watch",
        "--replay",
        &log,
        "--size",
        "320x240",
        "--screenshot",
        shot.to_str().expect("utf-8"),
        "--exit",
    ]));
    let hash = summary(&dir.join("run"))["trajectory_hash"].as_str().expect("hash").to_string();
    assert!(said.contains(&format!("60 steps replayed; trajectory {hash}")), "{said}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_batched_learner_trains_on_many_worlds_and_keeps_what_it_learned() {
    let dir = temp_dir("batched");
    let v0 = scenario("jbw-v0.ron");
    let run = |out: &str, extra: &[&str]| {
        let out = dir.join(out);
        let mut args =
            vec!["run", &v0, "--agent", "ppo-scent(rollout: 64)", "--worlds", "4", "--steps", "600"];
        args.extend_from_slice(&[
            "--metrics-every",
            "100",
            "--seed",
            "5",
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        args.extend_from_slice(extra);
        let said = stdout(&beanworld(&args));
        assert!(said.contains("600 steps of 4 worlds (4 streams)"), "{said}");
        (out.clone(), summary(&out))
    };
    let (one, a) = run("one", &["--agent-threads", "1"]);
    // Updates at steps 65, 129, …, 577: one line each, with every measure finite.
    assert_eq!(a["updates"], 9);
    assert_eq!(a["env_steps"], 2400);
    assert_eq!(a["seeds"], serde_json::json!([5, 6, 7, 8]));
    let lines = std::fs::read_to_string(one.join("learner.jsonl")).expect("learner.jsonl");
    let lines: Vec<serde_json::Value> =
        lines.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(lines[0]["step"], 65);
    for line in &lines {
        for key in ["policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"] {
            assert!(line[key].as_f64().is_some_and(f64::is_finite), "{key} in {line}");
        }
        assert_eq!(line["samples"], 4 * 64);
    }
    let metrics = std::fs::read_to_string(one.join("metrics.csv")).expect("metrics.csv");
    let rows: Vec<&str> = metrics.lines().collect();
    assert_eq!(rows[0], "step,streams,reward,reward_rate,env_steps_per_sec");
    assert_eq!(rows.len(), 7, "{metrics}");
    let reward: f64 = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(2).expect("reward").parse::<f64>().expect("a number"))
        .sum();
    let rate = a["reward_rate"].as_f64().expect("reward_rate");
    assert!((reward / (4.0 * 600.0) - rate).abs() < 1e-12, "{reward} vs {rate}");
    assert_eq!(a["final_window"], 100);
    assert!(one.join("reward_rate.png").exists());
    // The weights do not depend on how many threads step the worlds.
    let (two, b) = run("two", &["--agent-threads", "2"]);
    assert_eq!(a["weights_hash"], b["weights_hash"]);
    // Nor do the bytes of the learner it saves, in another process.
    let bytes = |dir: &Path| std::fs::read(dir.join("learner.safetensors")).expect("saved");
    assert!(bytes(&one) == bytes(&two), "the same checkpoint, byte for byte");
    // A saved learner starts the next run, of any number of worlds; a network of another
    // shape is refused, as are the options of a single world's run.
    let saved = one.join("learner.safetensors");
    let saved = saved.to_str().expect("utf-8");
    let (_, c) = run("more", &["--load-learner", saved]);
    assert_ne!(c["weights_hash"], a["weights_hash"]);
    let elsewhere = dir.join("elsewhere.safetensors");
    let two = stdout(&beanworld(&[
        "run",
        &v0,
        "--agent",
        "ppo-scent(rollout: 64)",
        "--worlds",
        "2",
        "--steps",
        "10",
        "--load-learner",
        saved,
        "--save-learner",
        elsewhere.to_str().expect("utf-8"),
        "--out",
        dir.join("two-worlds").to_str().expect("utf-8"),
    ]));
    assert!(two.contains("10 steps of 2 worlds"), "{two}");
    assert!(elsewhere.exists() && !dir.join("two-worlds/learner.safetensors").exists());
    let err =
        refused(&["run", &v0, "--agent", "ppo-scent(hidden: 32)", "--worlds", "2", "--load-learner", saved]);
    assert!(
        err.contains("is not of the shape of this one")
            && err.contains("policy.weight is [65, 3] in the checkpoint, [33, 3] here"),
        "{err}"
    );
    // A scenario's `worlds` trains over that many worlds without --worlds, its learner the
    // Agent policy all its agents share.
    let text = std::fs::read_to_string(&v0).expect("v0");
    let two = dir.join("two.ron");
    let with_worlds = text.replace("policy: Walk", "policy: Agent(\"ppo-scent(rollout: 64)\")");
    let with_worlds = format!(
        "{})\n",
        with_worlds.trim_end().trim_end_matches(')').trim_end().trim_end_matches(',').to_string()
            + ",\n    worlds: 2,"
    );
    std::fs::write(&two, &with_worlds).expect("written");
    let said = stdout(&beanworld(&[
        "run",
        two.to_str().expect("utf-8"),
        "--steps",
        "10",
        "--out",
        dir.join("by-scenario").to_str().expect("utf-8"),
    ]));
    assert!(said.contains("10 steps of 2 worlds (2 streams)"), "{said}");
    std::fs::write(&two, with_worlds.replace("worlds: 2", "worlds: 0")).expect("written");
    let err = refused(&["run", two.to_str().expect("utf-8")]);
    assert!(err.contains("worlds") && err.contains("must be 1 to 4096, not 0"), "{err}");
    let err = refused(&["run", &v0, "--load-learner", saved]);
    assert!(err.contains("--load-learner is for a learner trained over worlds"), "{err}");
    let err = refused(&["run", &v0, "--worlds", "2"]);
    assert!(err.contains("name it with --agent"), "{err}");
    let err = refused(&["run", &v0, "--agent", "ppo", "--worlds", "2", "--resume", saved, "--fresh-agents"]);
    assert!(err.contains("cannot be used with --fresh-agents"), "{err}");
    let err = refused(&["run", &v0, "--agent", "dqn", "--worlds", "2"]);
    assert!(err.contains("no batched learner is called \"dqn\""), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_batched_run_stopped_and_resumed_from_its_snapshot_is_the_run_that_did_not_stop() {
    let dir = temp_dir("batched-resume");
    let v0 = scenario("jbw-v0.ron");
    let run = |out: &Path, steps: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            &v0,
            "--agent",
            "ppo-scent(rollout: 64, reward_scale: true)",
            "--worlds",
            "3",
            "--steps",
            steps,
            "--metrics-every",
            "10",
            "--seed",
            "5",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        beanworld(&args)
    };
    let (straight, split) = (dir.join("straight"), dir.join("split"));
    // With reward scaling the learner also carries each stream's discounted return and their
    // running moments across the stop.
    stdout(&run(&straight, "600", &[]));
    // Stopped at 255, within a metrics interval and a rollout, its last snapshot the end's;
    // the one at 200 is kept too (--keep-snapshots 2) and the older one pruned. Its final
    // window was 26 steps, the whole run's is 60.
    stdout(&run(&split, "255", &["--snapshot-every", "100", "--keep-snapshots", "2"]));
    let kept: Vec<String> = {
        let mut names: Vec<String> = std::fs::read_dir(split.join("snapshots"))
            .expect("snapshots")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(kept, ["200", "255"]);
    let at = split.join("snapshots/255");
    let at = at.to_str().expect("utf-8");
    stdout(&run(&split, "600", &["--resume", at]));
    let (a, b) = (summary(&straight), summary(&split));
    assert_eq!(a["weights_hash"], b["weights_hash"]);
    assert_eq!(a["reward_rate"], b["reward_rate"]);
    assert_eq!(a["final_reward_rate"], b["final_reward_rate"]);
    assert_eq!(b["final_window"], 60);
    assert_eq!((b["steps"].as_u64(), b["steps_this_run"].as_u64()), (Some(600), Some(345)));
    // The same rows and update lines (less the timings), written once each.
    let rows = |d: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(d.join("metrics.csv")).expect("metrics.csv");
        text.lines().map(|l| l.rsplit_once(',').expect("a row").0.to_string()).collect()
    };
    assert_eq!(rows(&straight), rows(&split));
    assert_eq!(rows(&split).len(), 61);
    let lines = |d: &Path| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(d.join("learner.jsonl")).expect("learner.jsonl");
        text.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                v.as_object_mut().expect("an object").remove("env_steps_per_sec");
                v
            })
            .collect()
    };
    assert_eq!(lines(&straight), lines(&split));
    // Resumed as another run, or from a damaged snapshot: refused, saying why.
    let elsewhere = dir.join("elsewhere");
    let resume_as = |agent: &str, worlds: &str, from: &Path| {
        refused(&[
            "run",
            &v0,
            "--agent",
            agent,
            "--worlds",
            worlds,
            "--resume",
            from.to_str().expect("utf-8"),
            "--out",
            elsewhere.to_str().expect("utf-8"),
        ])
    };
    let at = Path::new(at);
    let err = resume_as("ppo-scent(rollout: 32)", "3", at);
    assert!(err.contains("is of the learner \"ppo-scent(rollout: 64, reward_scale: true)\""), "{err}");
    let err = resume_as("ppo-scent(rollout: 64, reward_scale: true)", "2", at);
    assert!(err.contains("has 3 worlds; resume with --worlds 3"), "{err}");
    // A new run into a folder with snapshots of an earlier one is refused (pruning would take
    // its own first); a world's file is not a snapshot of a run over worlds.
    let err = String::from_utf8(run(&split, "600", &["--snapshot-every", "100"]).stderr).expect("utf-8");
    assert!(err.contains("holds snapshots of an earlier run (the last of step 255)"), "{err}");
    let err = resume_as("ppo-scent(rollout: 64)", "3", &split.join("snapshots/200/world-0000.snap"));
    assert!(err.contains("is a file: a run over worlds resumes from a snapshot folder"), "{err}");
    let state = split.join("snapshots/200/run.state");
    let mut bytes = std::fs::read(&state).expect("run.state");
    bytes[3] ^= 1;
    std::fs::write(&state, bytes).expect("written");
    let err = resume_as("ppo-scent(rollout: 64)", "3", &split.join("snapshots/200"));
    assert!(err.contains("run.state is damaged"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

/// A track file in `dir` for the scenario file `scenario`, with `body` after the scenario's line.
fn track_file(dir: &Path, name: &str, scenario: &str, body: &str) -> String {
    let path = dir.join(format!("{name}.ron"));
    let text = format!(
        "Track(\n    name: \"{name}\",\n    version: 1,\n    probes: \"a test\",\n    scenario: \"{scenario}\",\n{body})\n"
    );
    std::fs::write(&path, text).expect("track written");
    path.display().to_string()
}

const TASKS: &str = "    tasks: [\n        Task(name: \"jelly beans\", reward: Sum([Collect(item: \"jellybean\", value: 1), Avoid(item: \"onion\", value: 1)])),\n        Task(name: \"onions\", reward: Sum([Avoid(item: \"jellybean\", value: 1), Collect(item: \"onion\", value: 1)])),\n    ],\n";
const LENGTHS: &str = "    held_out: [1000001, 1000002],\n    smoke: (steps: 2000, eval_every: 1000, eval_steps: 100, window: 1000),\n    full: (steps: 16000, eval_every: 2000, eval_steps: 200, window: 4000),\n";

#[test]
fn suite_lives_repeat_byte_for_byte_resume_after_a_kill_and_report() {
    let dir = temp_dir("suite");
    // The paper's cyclical schedule, switching every 8,000 steps: onions are a new task at 8,000.
    let cyclical = dir.join("cyclical-8000.ron");
    std::fs::write(
        &cyclical,
        std::fs::read_to_string(scenario("cyclical.ron")).expect("read").replace("100000)", "8000)"),
    )
    .expect("written");
    let track = track_file(&dir, "cycle", &cyclical.display().to_string(), &format!("{TASKS}{LENGTHS}"));
    let suite = |out: &Path, extra: &[&str]| {
        let mut args =
            vec!["suite", "run", &track, "--learner", "ppo-scent(rollout: 256)", "--seeds", "2", "--out"];
        let out = out.display().to_string();
        args.push(&out);
        args.extend_from_slice(extra);
        stdout(&beanworld(&args))
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    suite(&a, &["--jobs", "2"]);
    // Killed as soon as its snapshot at 10,000 is on disk, after the switch at 8,000, then run
    // again: it goes on from there, keeping the switch (switches.csv, and so recovery).
    let mut child = Command::new(env!("CARGO_BIN_EXE_beanworld"))
        .args(["suite", "run", &track, "--learner", "ppo-scent(rollout: 256)", "--seeds", "2", "--out"])
        .arg(&b)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawned");
    let first = b.join("cycle/ppo-scent_rollout__256_/seed-0/snapshots/10000.snap");
    let started = std::time::Instant::now();
    while !first.exists() && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("killed");
    let _ = child.wait();
    suite(&b, &[]);
    for seed in 0..2 {
        for file in ["result.json", "evals.csv"] {
            let path = |root: &Path| root.join(format!("cycle/ppo-scent_rollout__256_/seed-{seed}/{file}"));
            let (x, y) = (std::fs::read(path(&a)).expect("read"), std::fs::read(path(&b)).expect("read"));
            assert!(x == y, "seed {seed}: {file} differs between the whole run and the killed one");
        }
    }
    let result: serde_json::Value = serde_json::from_slice(
        &std::fs::read(a.join("cycle/ppo-scent_rollout__256_/seed-0/result.json")).expect("read"),
    )
    .expect("JSON");
    assert_eq!(result["evals"].as_array().map(Vec::len), Some(8), "{result}");
    assert_eq!(result["tasks"][1], "onions");
    // Forward transfer to the onions, from a fresh learner put into the life's world at 8,000.
    let transfer = &result["forward_transfer"];
    assert_eq!(transfer.as_array().map(Vec::len), Some(1), "{result}");
    assert_eq!(transfer[0][0], 8000);
    assert!(transfer[0][1].as_f64().is_some_and(f64::is_finite), "{result}");
    assert!(!a.join("cycle/ppo-scent_rollout__256_/seed-0/transfer").exists(), "kept only until the result");
    // A baseline that does not learn, put fresh into the same world, does just what it did.
    let g = dir.join("g");
    stdout(&beanworld(&[
        "suite",
        "run",
        &track,
        "--learner",
        "greedy-scent",
        "--seeds",
        "1",
        "--out",
        &g.display().to_string(),
    ]));
    let greedy: serde_json::Value = serde_json::from_slice(
        &std::fs::read(g.join("cycle/greedy-scent/seed-0/result.json")).expect("read"),
    )
    .expect("JSON");
    assert_eq!(greedy["forward_transfer"][0][1].as_f64(), Some(0.0), "{greedy}");
    // The smoke length and a second learner land in the same report. Named beside the first,
    // whose lives are lived, only the second one's lives are lived.
    suite(&a, &["--smoke"]);
    let ppo = a.join("cycle/ppo-scent_rollout__256_/seed-0/result.json");
    let before = std::fs::metadata(&ppo).and_then(|m| m.modified()).expect("a result");
    suite(&a, &["--learner", "random", "--jobs", "2"]);
    assert_eq!(std::fs::metadata(&ppo).and_then(|m| m.modified()).ok(), Some(before), "lived again");
    let err = refused(&["suite", "run", &track, "--learner", "random", "--learner", "random"]);
    assert!(err.contains("name each learner once"), "{err}");
    stdout(&beanworld(&["suite", "report", &a.display().to_string()]));
    stdout(&beanworld(&[
        "suite",
        "report",
        &b.display().to_string(),
        "--out",
        &a.join("again").display().to_string(),
    ]));
    let report = std::fs::read_to_string(a.join("report.md")).expect("report");
    for needle in [
        "## cycle\n",
        "## cycle-smoke\n",
        "`random`",
        "`ppo-scent(rollout: 256)`",
        "| onions |",
        "| forward transfer |",
        "![cycle](cycle.png)",
        "| learner | dormant (τ = 0.1) | srank |",
        "![cycle: dormant units](cycle-dormant.png)",
    ] {
        assert!(report.contains(needle), "{needle:?} in:\n{report}");
    }
    assert!(a.join("cycle.png").is_file() && a.join("cycle-smoke.png").is_file());
    // The learner's diagnostics come from its learner.jsonl; random has none, so it is not in
    // their table.
    assert!(a.join("cycle-dormant.png").is_file());
    let diagnostics = &report[report.find("| dormant (τ = 0.1) |").expect("the table")..];
    let diagnostics = &diagnostics[..diagnostics.find("![").expect("its plot")];
    assert!(
        diagnostics.contains("`ppo-scent(rollout: 256)`") && !diagnostics.contains("`random`"),
        "{diagnostics}"
    );
    assert!(!diagnostics.contains("| — |"), "every learner there has a figure: {diagnostics}");
    stdout(&beanworld(&[
        "suite",
        "report",
        &a.display().to_string(),
        "--out",
        &dir.join("c").display().to_string(),
    ]));
    assert_eq!(
        std::fs::read(a.join("report.md")).ok(),
        std::fs::read(dir.join("c/report.md")).ok(),
        "reports repeat"
    );
    for png in ["cycle.png", "cycle-dormant.png"] {
        assert_eq!(std::fs::read(a.join(png)).ok(), std::fs::read(dir.join("c").join(png)).ok(), "{png}");
    }
    // A damaged learner log is refused, with its place.
    let log = a.join("cycle/ppo-scent_rollout__256_/seed-1/learner.jsonl");
    let mut text = std::fs::read_to_string(&log).expect("read");
    let lines = text.lines().count();
    text.push_str("{\"step\": 5,\n");
    std::fs::write(&log, text).expect("written");
    let err = refused(&["suite", "report", &a.display().to_string()]);
    assert!(
        err.contains(&format!("seed-1/learner.jsonl, line {}: not a learner's line", lines + 1)),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tracks_are_refused_with_the_place_and_the_reason() {
    let dir = temp_dir("tracks");
    let run = |track: &str| {
        refused(&[
            "suite",
            "run",
            track,
            "--learner",
            "random",
            "--out",
            &dir.join("out").display().to_string(),
        ])
    };
    let missing = dir.join("missing.ron");
    std::fs::write(&missing, "Track(name: \"m\", version: 1, probes: \"\", scenario: \"nowhere.ron\", tasks: [], held_out: [], smoke: (steps: 1, eval_every: 1, eval_steps: 1, window: 1), full: (steps: 1, eval_every: 1, eval_steps: 1, window: 1))").expect("written");
    let err = run(&missing.display().to_string());
    assert!(err.contains("missing.ron:1:53: scenario: no scenario file at"), "{err}");
    let unknown = track_file(
        &dir,
        "unknown",
        &scenario("cyclical.ron"),
        &format!("    tasks: [Task(name: \"pears\", reward: Collect(item: \"pear\", value: 1))],\n{LENGTHS}"),
    );
    let err = run(&unknown);
    assert!(
        err.contains("unknown.ron:6:")
            && err.contains("tasks[0] (\"pears\")")
            && err.contains("unknown item \"pear\""),
        "{err}"
    );
    let no_worlds = track_file(
        &dir,
        "empty",
        &scenario("cyclical.ron"),
        &format!("{TASKS}{}", LENGTHS.replace("[1000001, 1000002]", "[]")),
    );
    assert!(run(&no_worlds).contains("held_out: no held-out world"));
    let trained_on = track_file(
        &dir,
        "seen",
        &scenario("cyclical.ron"),
        &format!("{TASKS}{}", LENGTHS.replace("1000001,", "1,")),
    );
    assert!(run(&trained_on).contains("seed 1 may be a life's"));
    let uneven = track_file(
        &dir,
        "uneven",
        &scenario("cyclical.ron"),
        &format!("{TASKS}{}", LENGTHS.replace("eval_every: 2000", "eval_every: 3000")),
    );
    assert!(run(&uneven).contains("must divide steps"));
    // Onions first in force at 7,000, where no evaluation is.
    let odd = dir.join("cyclical-7000.ron");
    std::fs::write(
        &odd,
        std::fs::read_to_string(scenario("cyclical.ron")).expect("read").replace("100000)", "7000)"),
    )
    .expect("written");
    let off = track_file(&dir, "off", &odd.display().to_string(), &format!("{TASKS}{LENGTHS}"));
    let err = run(&off);
    assert!(
        err.contains("full: a task first comes into force at step 7000, where no evaluation is"),
        "{err}"
    );
    let syntax = dir.join("syntax.ron");
    std::fs::write(&syntax, "Track(name: 3)").expect("written");
    assert!(run(&syntax.display().to_string()).contains("syntax.ron:1:"), "a syntax error's place");
    assert!(run("no-such-track").contains("no track \"no-such-track\""));
    let team = track_file(&dir, "team", &scenario("cyclical.ron"), &format!("{TASKS}{LENGTHS}"));
    let err = refused(&[
        "suite",
        "run",
        &team,
        "--learner",
        "ppo-shared",
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    assert!(err.contains("is a team"), "{err}");
    let out = beanworld(&["suite", "run", &team, "--learner", "random", "--seeds", "0"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0 is not in 1..=1000"),
        "an empty seed list: {out:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_version_names_its_commit_and_every_subcommand_shows_an_example() {
    let version = stdout(&beanworld(&["--version"]));
    assert!(version.starts_with(concat!("beanworld ", env!("CARGO_PKG_VERSION"), " (")), "{version}");
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(head) = head {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(version.contains(&format!("({head})")), "{version} is not of {head}");
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let subcommands = subcommands(&[]);
    assert!(subcommands.len() >= 12 && subcommands.iter().any(|s| s == "completions"), "{subcommands:?}");
    for sub in subcommands.iter().map(String::as_str) {
        let help = stdout(&beanworld(&[sub, "--help"]));
        let examples: Vec<&str> =
            help.lines().skip_while(|l| !l.starts_with("Example")).skip(1).map(str::trim).collect();
        assert!(examples.iter().any(|e| e.starts_with(&format!("beanworld {sub} "))), "{sub}: {help}");
        // The scenarios they name are shipped.
        for word in examples.iter().flat_map(|e| e.split_whitespace()).filter(|w| w.ends_with(".ron")) {
            assert!(root.join(word).is_file(), "{sub}'s example names {word}, which is not there");
        }
        // Their options parse: with `--help` after them, the command reads every word before it
        // (refusing an unknown option or a bad value) and then prints its help.
        for example in examples.iter().filter_map(|e| e.strip_prefix("beanworld ")) {
            let words: Vec<&str> =
                example.split(" > ").next().unwrap_or_default().split_whitespace().collect();
            let out = beanworld(&[&words[..], &["--help"]].concat());
            assert!(out.status.success(), "{example}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    // A completion script for bash that knows the subcommands.
    let bash = stdout(&beanworld(&["completions", "bash"]));
    assert!(bash.contains("complete -F _beanworld") && bash.contains("suite"), "{bash}");
    let out = beanworld(&["completions", "cmd"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.contains("invalid value 'cmd'") && err.contains("bash"),
        "{err}"
    );
}

/// The subcommands `beanworld [PATH…] --help` lists (without `help`).
fn subcommands(path: &[&str]) -> Vec<String> {
    let help = stdout(&beanworld(&[path, &["--help"]].concat()));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn the_cli_reference_in_the_docs_is_the_commands_own_help() {
    let mut pages = vec![Vec::new()];
    for sub in subcommands(&[]) {
        pages.push(vec![sub.clone()]);
        for inner in subcommands(&[&sub]) {
            pages.push(vec![sub.clone(), inner]);
        }
    }
    let mut text = String::from(
        "# CLI reference\n\nEvery command's own `--help`, generated by the test \
         `the_cli_reference_in_the_docs_is_the_commands_own_help` (`sim/cli/tests/cli.rs`), which \
         fails when this page is stale; `BEANWORLD_BLESS=1 cargo test -p beanworld --test cli -- \
         cli_reference` writes it again. [Commands](commands.md) explains them.\n",
    );
    for page in &pages {
        let args: Vec<&str> = page.iter().map(String::as_str).collect();
        let help = stdout(&beanworld(&[&args[..], &["--help"]].concat()));
        let title =
            if page.is_empty() { "beanworld".to_string() } else { format!("beanworld {}", page.join(" ")) };
        text += &format!("\n## `{title}`\n\n```text\n{}\n```\n", help.trim_end());
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/cli-reference.md");
    if std::env::var_os("BEANWORLD_BLESS").is_some() {
        std::fs::write(&path, &text).expect("written");
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == text,
        "docs/src/cli-reference.md is not the commands' help: run BEANWORLD_BLESS=1 cargo test -p beanworld --test cli -- cli_reference"
    );
}

#[test]
fn every_scenario_example_in_the_docs_validates() {
    let dir = temp_dir("doc-examples");
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/src");
    let mut checked = 0;
    for page in std::fs::read_dir(&docs).expect("docs/src").flatten() {
        let text = std::fs::read_to_string(page.path()).unwrap_or_default();
        for (k, block) in text.split("```ron\n").skip(1).enumerate() {
            let example = block.split("```").next().unwrap_or_default();
            let file = dir.join(format!("{}-{k}.ron", page.file_name().to_string_lossy()));
            std::fs::write(&file, example).expect("written");
            let out = beanworld(&["validate", file.to_str().expect("utf-8")]);
            assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
            checked += 1;
        }
    }
    assert!(checked >= 2, "{checked} examples");
    std::fs::remove_dir_all(dir).ok();
}
