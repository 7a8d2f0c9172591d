//! Scenario files: every shipped scenario loads, and bad files are refused with the right
//! `FILE:LINE:COL` and message.

mod common;

use beanworld_sim::{Scenario, ScenarioError};
use common::{scenarios_dir, shipped};
use std::path::PathBuf;

#[test]
fn every_shipped_scenario_validates() {
    let mut count = 0;
    for dir in [scenarios_dir(), scenarios_dir().join("experiments")] {
        for entry in std::fs::read_dir(&dir).expect("scenarios/ and scenarios/experiments/ exist") {
            let path = entry.expect("readable entry").path();
            if path.extension().is_some_and(|e| e == "ron") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
    }
    assert!(count >= 9, "expected the JBW scenarios and the experiments, found {count} files");
}

#[test]
fn jbw_scenarios_use_jbw_names_and_settings() {
    let v0 = shipped("jbw-v0.ron");
    let names: Vec<_> = v0.config.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["banana", "onion", "jellybean", "wall"]);
    assert_eq!((v0.config.patch_size, v0.config.vision.range), (32, 5));
    // Only jelly beans are collectable: the others require one of their own kind.
    for (i, t) in v0.config.items.iter().enumerate() {
        assert_eq!(t.required_counts[i], u32::from(t.name != "jellybean"), "{}", t.name);
    }
    let paper = shipped("jbw-paper.ron");
    let names: Vec<_> = paper.config.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["banana", "onion", "jellybean", "wall", "tree", "truffle"]);
    assert_eq!((paper.config.patch_size, paper.config.vision.range), (64, 8));
    assert_eq!(paper.config.items[3].visual_occlusion, 1.0);
    assert_eq!(paper.config.vision.agent_color, [0.0, 0.0, 0.0]);
    let v1 = shipped("jbw-v1.ron");
    assert_eq!((v1.config.patch_size, v1.config.vision.range), (32, 5));
    assert_eq!(v1.config.items[3].visual_occlusion, 0.0);
    assert_eq!(
        v1.config.items[3..5],
        paper.config.items[3..5]
            .iter()
            .cloned()
            .map(|mut t| {
                t.visual_occlusion = 0.0;
                t
            })
            .collect::<Vec<_>>()[..]
    );
}

const ITEM: &str = r#"Item(name: "a", scent: [0], color: [0, 0, 1])"#;

/// (what, text, line, column, words the message must contain)
fn bad_scenarios() -> Vec<(&'static str, String, usize, usize, &'static str)> {
    vec![
        ("unclosed item", "Scenario(\n  items: [\n    Item(name: \"a\", scent: [0], color: [0, 0, 1]\n  ],\n)\n".into(), 4, 3, "Expected comma"),
        ("empty file", String::new(), 1, 1, "Expected opening `(`"),
        ("unknown field", format!("Scenario(\n  items: [{ITEM}],\n  world: (patch_size: 32, mcmc_iteratons: 5),\n)"), 3, 27, "Unexpected field named `mcmc_iteratons`"),
        ("wrong type", format!("Scenario(\n  items: [{ITEM}],\n  world: (patch_size: \"big\"),\n)"), 3, 22, "in `world.patch_size`: Expected integer"),
        ("negative patch size", format!("Scenario(\n  items: [{ITEM}],\n  world: (patch_size: -32),\n)"), 3, 24, "in `world.patch_size`: integer out of range"),
        ("zero patch size", format!("Scenario(\n  items: [{ITEM}],\n  world: (patch_size: 0),\n)"), 3, 11, "`world.patch_size`: expected a patch size between 2 and 256"),
        ("scent does not converge", format!("Scenario(\n  items: [{ITEM}],\n  scent: (decay: 0.5, diffusion: 0.2),\n)"), 3, 23, "|decay| + 4·|diffusion| = 1.3000 must be below 1"),
        ("vision beyond half a patch", format!("Scenario(\n  items: [{ITEM}],\n  vision: (range: 20),\n)"), 3, 12, "vision range 20 is larger than half the patch size (16)"),
        ("unknown interaction partner", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    interactions: {\"onoin\": Zero}),\n])".into(), 3, 20, "unknown item \"onoin\"; expected one of \"a\""),
        ("unknown required item", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    required: {\"b\": 1}),\n])".into(), 3, 16, "`items[0].required[\"b\"]`: unknown item \"b\""),
        ("misspelt energy function", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1], intensity: Constnt(-1)),\n])".into(), 2, 60, "Unexpected variant named `Constnt`"),
        ("missing interaction argument", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    interactions: {\"a\": PiecewiseBox(l1: 1, l2: 2, c1: 3)}),\n])".into(), 3, 57, "in `items[0].interactions[\"a\"]`: Unexpected missing field named `c2`"),
        ("no items at all", "Scenario(\n  seed: 1,\n)\n".into(), 3, 1, "missing field named `items`"),
        ("empty item list", "Scenario(\n  items: [],\n)".into(), 2, 3, "`items`: expected at least one item type"),
        ("duplicate item name", format!("Scenario(\n  items: [{ITEM},\n    {ITEM}],\n)"), 3, 10, "item name \"a\" is already used by items[0]"),
        ("scent length mismatch", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1]),\n  Item(name: \"b\", scent: [0, 1], color: [0, 0, 1]),\n])".into(), 3, 19, "expected 1 scent values (as items[0] has), found 2"),
        ("agent colour length", format!("Scenario(\n  items: [{ITEM}],\n  vision: (agent_color: [1]),\n)"), 3, 12, "`vision.agent_color`: expected 3 colour values"),
        ("field of view", format!("Scenario(\n  items: [{ITEM}],\n  vision: (field_of_view_degrees: 400),\n)"), 3, 12, "expected an angle in (0, 360] degrees, found 400"),
        ("zero lifetime", format!("Scenario(\n  items: [{ITEM}],\n  scent: (deleted_item_lifetime: 0),\n)"), 3, 11, "expected at least 1 step"),
        ("radial hash period", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    intensity: RadialHash(shift: 1, scale: 0, c: 1, k: 1)),\n])".into(), 3, 37, "`items[0].intensity.scale`: expected a period ≥ 1 cell"),
        ("non-finite energy", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    intensity: Constant(inf)),\n])".into(), 3, 25, "expected finite numbers, found inf"),
        ("proposal weight", "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    proposal_weight: 0),\n])".into(), 3, 5, "`items[0].proposal_weight`: expected a finite number > 0"),
        ("drift of an unknown parameter", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (drift: [Drift(param: \"a.colour[0]\", value: Constant(1))]),\n)"), 3, 28, "expected intensity, interactions, color or scent after \"a.\""),
        ("drift of a missing argument", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (drift: [Drift(param: \"a.intensity\", value: Constant(1))]),\n)"), 3, 28, "a's intensity is Zero, which has no arguments"),
        ("ramp backwards", "Scenario(\n  items: [Item(name: \"a\", scent: [0], color: [0, 0, 1], intensity: Constant(1))],\n  dynamics: (drift: [Drift(param: \"a.intensity\", value: Ramp(start: 10, end: 5, from: 0, to: 1))]),\n)".into(), 3, 50, "expected `end` after `start`"),
        ("removing an agent that is not there", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (events: [Event(at: 5, action: RemoveAgent(2))]),\n)"), 3, 56, "no agent 2 exists at step 5"),
        ("event with an unknown item", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (events: [Event(at: 5, action: Place(item: \"b\", region: (0, 0, 1, 1)))]),\n)"), 3, 50, "unknown item \"b\""),
        ("teacher turning a drifting knob", "Scenario(\n  items: [Item(name: \"a\", scent: [0], color: [0, 0, 1], intensity: Constant(1))],\n  dynamics: (drift: [Drift(param: \"a.intensity\", value: Constant(2))]),\n  teacher: Cyclical(easy: 5, hard: 5, knobs: [Knob(param: \"a.intensity\", easy: 0, hard: 1)]),\n)".into(), 4, 52, "`teacher.knobs[0].param`: \"a.intensity\" drifts; a teacher setting it would end its drift"),
        ("teacher band upside down", "Scenario(\n  items: [Item(name: \"a\", scent: [0], color: [0, 0, 1], intensity: Constant(1))],\n  teacher: Adaptive(every: 10, band: (0.5, 0.1), step: 0.1,\n    knobs: [Knob(param: \"a.intensity\", easy: 0, hard: 1)]),\n)".into(), 3, 32, "`teacher.band`: expected (low, high) with low < high"),
        ("reward knob beside a task switch", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (events: [Event(at: 5, action: SetTask(Fixed(Zero)))]),\n  teacher: Cyclical(easy: 5, hard: 5, knobs: [Knob(param: \"reward.a\", easy: 1, hard: 0)]),\n)"), 4, 52, "a reward knob adds to the scenario's schedule, which an event here replaces"),
        ("reward knob of an unknown item", format!("Scenario(\n  items: [{ITEM}],\n  teacher: Cyclical(easy: 5, hard: 5, knobs: [Knob(param: \"reward.b\", easy: 1, hard: 0)]),\n)"), 3, 52, "`teacher.knobs[0].param`: unknown item \"b\""),
        ("teacher without knobs", format!("Scenario(\n  items: [{ITEM}],\n  teacher: Cyclical(easy: 5, hard: 5, knobs: []),\n)"), 3, 39, "`teacher.knobs`: expected at least one knob"),
        ("teacher with a misspelt field", format!("Scenario(\n  items: [{ITEM}],\n  teacher: Cyclical(easy: 5, hard: 5, knobs: [], unitl: 9),\n)"), 3, 50, "Unexpected field named `unitl`"),
        ("zero-length cycle", format!("Scenario(\n  items: [{ITEM}],\n  task: Cyclical([(Zero, 5), (Zero, 0)]),\n)"), 3, 37, "expected a duration of at least 1 step"),
        ("zero-length cycle in an event", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (events: [Event(at: 5,\n    action: SetTask(Cyclical([(Zero, 0)])))]),\n)"), 4, 38, "expected a duration of at least 1 step"),
        ("eviction inside regrowth", format!("Scenario(\n  items: [{ITEM}],\n  dynamics: (regrowth: (radius: 3, interval: 10, proposals: 10), eviction: (radius: 3)),\n)"), 3, 77, "expected at least 4 patches"),
    ]
}

#[test]
fn bad_scenarios_are_refused_with_line_column_and_reason() {
    let mut wrong = Vec::new();
    for (what, text, line, col, words) in bad_scenarios() {
        match Scenario::parse(&text, "bad.ron") {
            Err(e @ ScenarioError::Invalid { .. }) => {
                let shown = e.to_string();
                let expected = format!("bad.ron:{line}:{col}: ");
                if !shown.starts_with(&expected) || !shown.contains(words) {
                    wrong.push(format!("{what}: expected {expected}…“{words}”…, got {shown}"));
                }
            }
            other => wrong.push(format!("{what}: expected a refusal, got {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_missing_file_is_refused_with_its_name() {
    let e = Scenario::load(std::path::Path::new("/no/such/scenario.ron")).expect_err("missing file");
    assert!(e.to_string().starts_with("/no/such/scenario.ron: cannot read the scenario"), "{e}");
}

/// The fields (and variants) of the types in `src/scenario/` that a scenario file is written in,
/// as the reference reads them: `(type, name)`.
fn scenario_file_names() -> Vec<(String, String)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    for (file, ty) in SCENARIO_TYPES.iter().filter(|(file, _)| file.starts_with("scenario/")) {
        let source = std::fs::read_to_string(src.join(file)).expect("a scenario module");
        let read = reference_of(&source, ty).unwrap_or_else(|| panic!("{ty} is not in {file}"));
        names.extend(read.names.into_iter().map(|n| ((*ty).to_string(), n)));
    }
    names
}

#[test]
fn the_scenario_chapter_names_every_field_of_a_scenario_file() {
    let doc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/scenarios.md");
    let doc = std::fs::read_to_string(doc).expect("docs/src/scenarios.md");
    let names = scenario_file_names();
    // The reader found the types (a change of their layout must not empty this test).
    for (ty, name) in [("ScenarioFile", "items"), ("ItemSpec", "visual_occlusion"), ("RewardSpec", "Collect")]
    {
        assert!(names.iter().any(|(t, n)| t == ty && n == name), "{ty}.{name} not found in {names:?}");
    }
    // Named: the identifier as a whole word (in the prose or the annotated examples).
    let words: std::collections::HashSet<&str> =
        doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
    let missing: Vec<String> =
        names.iter().filter(|(_, n)| !words.contains(n.as_str())).map(|(t, n)| format!("{t}.{n}")).collect();
    assert!(missing.is_empty(), "docs/src/scenarios.md does not name {missing:?}");
}

/// The types a scenario file is written in, by the source file that defines each, in the order
/// the reference gives them.
const SCENARIO_TYPES: &[(&str, &str)] = &[
    ("scenario/file.rs", "ScenarioFile"),
    ("scenario/world.rs", "WorldSection"),
    ("scenario/items.rs", "ItemSpec"),
    ("energy.rs", "Intensity"),
    ("energy.rs", "Interaction"),
    ("scenario/scent.rs", "ScentSection"),
    ("scenario/vision.rs", "VisionSection"),
    ("scenario/actions.rs", "ActionSection"),
    ("scenario/actions.rs", "MovePolicies"),
    ("scenario/actions.rs", "TurnPolicies"),
    ("group.rs", "AgentGroup"),
    ("geometry.rs", "Direction"),
    ("policy.rs", "PolicyKind"),
    ("scenario/task.rs", "ScheduleSpec"),
    ("scenario/task.rs", "RewardSpec"),
    ("scenario/dynamics.rs", "DynamicsSection"),
    ("dynamics.rs", "Regrowth"),
    ("dynamics.rs", "Eviction"),
    ("scenario/dynamics.rs", "DriftSpec"),
    ("dynamics.rs", "TimeFn"),
    ("dynamics.rs", "Shape"),
    ("scenario/dynamics.rs", "EventSpec"),
    ("scenario/dynamics.rs", "ActionSpec"),
    ("scenario/teacher.rs", "TeacherSpec"),
    ("scenario/teacher.rs", "KnobSpec"),
];

/// One type as the reference reads it from its definition in `source`.
struct TypeRef {
    /// Its fields' (or variants') names, in order.
    names: Vec<String>,
    /// Its part of the reference: its documentation, then a row per field (or variant) with its
    /// type (or shape), whether it may be left out, and its documentation.
    markdown: String,
}

/// The type `name` of `source`, read (`None` if it is not defined there).
fn reference_of(source: &str, name: &str) -> Option<TypeRef> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines.iter().position(|l| {
        l.starts_with(&format!("pub struct {name} ")) || l.starts_with(&format!("pub enum {name} "))
    })?;
    let is_enum = lines[start].starts_with("pub enum");
    let docs_before = |at: usize| -> String {
        let mut docs = Vec::new();
        let mut k = at;
        while k > 0 {
            k -= 1;
            let l = lines[k].trim_start();
            if let Some(d) = l.strip_prefix("///") {
                docs.push(d.trim().to_string());
            } else if !l.starts_with("#[") {
                break;
            }
        }
        docs.reverse();
        // Rust's links to items (`[`Schedule`]`) read as plain code here.
        docs.join(" ").replace("[`", "`").replace("`]", "`")
    };
    let attrs_before = |at: usize| -> String {
        let mut attrs = String::new();
        let mut k = at;
        while k > 0 && lines[k - 1].trim_start().starts_with("#[") {
            k -= 1;
            attrs += lines[k];
        }
        attrs
    };
    let type_attrs = attrs_before(
        start - lines[..start].iter().rev().take_while(|l| l.trim_start().starts_with("///")).count(),
    );
    let written = type_attrs.split("rename = \"").nth(1).and_then(|r| r.split('"').next()).unwrap_or(name);
    let whole_default = type_attrs.contains("default") && !is_enum;
    let mut out = format!("## `{written}`\n\n{}\n\n", docs_before(start));
    let mut names = Vec::new();
    out += if is_enum {
        "| variant | documentation |\n|---|---|\n"
    } else {
        "| field | type | may be left out | documentation |\n|---|---|---|---|\n"
    };
    let mut k = start + 1;
    while k < lines.len() && lines[k] != "}" {
        let line = lines[k];
        let depth = line.len() - line.trim_start().len();
        let text = line.trim();
        if depth == 4 && !text.starts_with("///") && !text.starts_with("#[") && !text.is_empty() {
            let docs = docs_before(k).replace('|', "\\|");
            if is_enum {
                // A variant: its name, with its fields' names when it has named ones.
                let variant = text.split(['(', '{', ',', ' ']).next().unwrap_or_default();
                let shape = if text.ends_with('{') {
                    let mut fields = Vec::new();
                    let mut j = k + 1;
                    while j < lines.len() && lines[j].trim() != "}," && lines[j].trim() != "}" {
                        let t = lines[j].trim();
                        if !t.starts_with("///")
                            && !t.starts_with("#[")
                            && let Some((f, _)) = t.split_once(':')
                        {
                            fields.push(format!("{f}: …"));
                        }
                        j += 1;
                    }
                    k = j;
                    format!("{variant}({})", fields.join(", "))
                } else if let Some(inner) = text.strip_prefix(variant).and_then(|t| t.strip_prefix('(')) {
                    format!("{variant}({})", inner.trim_end_matches(',').trim_end_matches(')'))
                } else {
                    variant.to_string()
                };
                out += &format!("| `{shape}` | {docs} |\n");
                names.push(variant.to_string());
            } else if let Some(field) = text.strip_prefix("pub ") {
                let (field, ty) = field.split_once(':').unwrap_or((field, ""));
                let optional =
                    whole_default || attrs_before(k).contains("default") || ty.trim().starts_with("Option<");
                let ty = ty.trim().trim_end_matches(',').replace('|', "\\|");
                out += &format!(
                    "| `{field}` | `{ty}` | {} | {docs} |\n",
                    if optional { "yes" } else { "**no**" }
                );
                names.push(field.to_string());
            }
        }
        k += 1;
    }
    Some(TypeRef { names, markdown: out })
}

#[test]
fn the_scenario_reference_in_the_docs_is_the_types_own() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut text = String::from(
        "# Scenario reference\n\nEvery type a scenario file is written in, with each field's type, whether it may be \
         left out, and its documentation, read from the engine's own definitions by the test \
         `the_scenario_reference_in_the_docs_is_the_types_own` (`sim/engine/tests/scenarios.rs`), which fails \
         when this page is stale; `BEANWORLD_BLESS=1 cargo test -p beanworld-sim --test scenarios -- \
         scenario_reference` writes it again. [Scenarios](scenarios.md) explains them with examples; the \
         defaults are at the end, as the engine reads the smallest scenario.\n\n",
    );
    for (file, name) in SCENARIO_TYPES {
        let source = std::fs::read_to_string(src.join(file)).expect("a source file");
        let part = reference_of(&source, name).unwrap_or_else(|| panic!("{name} is not in {file}"));
        assert!(!part.names.is_empty(), "{name}: nothing read");
        text += &part.markdown;
        text += "\n";
    }
    // Every default, as written out by the engine from the smallest scenario.
    let smallest = "Scenario(items: [Item(name: \"banana\", scent: [1, 1, 0], color: [1, 1, 0])])";
    let file: beanworld_sim::scenario::ScenarioFile = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(smallest)
        .expect("the smallest scenario");
    let config = ron::ser::PrettyConfig::new().struct_names(true);
    let written = ron::ser::to_string_pretty(&file, config).expect("written");
    text += &format!(
        "## Every default\n\nThe smallest scenario, `{smallest}`, as the engine reads it:\n\n```ron\n{written}\n```\n"
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/scenario-reference.md");
    if std::env::var_os("BEANWORLD_BLESS").is_some() {
        std::fs::write(&path, &text).expect("written");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/src/scenario-reference.md is stale: run BEANWORLD_BLESS=1 cargo test -p beanworld-sim --test scenarios -- scenario_reference"
    );
}
