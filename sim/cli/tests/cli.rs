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
    let err = refused(&["map", "--region", "0,0,100000,100000"]);
    assert!(err.contains("`map` generates at most"), "{err}");
    // A malformed region is a usage error (exit code 2) from the argument parser.
    let out = beanworld(&["map", "--region", "0,0,1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a region as X0,Y0,X1,Y1"));
    std::fs::remove_dir_all(dir).ok();
}
