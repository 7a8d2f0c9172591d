"""The plasticity diagnostics a learner writes with each update reach learner.jsonl and TensorBoard's
event file alike, and they see what was done to a network: units silenced on purpose are counted
dormant, and ReDo revives them."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import beanworld.checkpoint as ck

ROOT = Path(__file__).resolve().parents[3]
LEARNER = "ppo-scent(rollout: 64)"


def run(out, *extra, learner=LEARNER):
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    subprocess.run(
        [binary, "run", str(ROOT / "scenarios/jbw-v0.ron"), "--agent", learner, "--worlds", "2",
         "--seed", "4", "--out", str(out), *extra],
        check=True, capture_output=True, text=True,
    )
    return [json.loads(line) for line in (out / "learner.jsonl").read_text().splitlines()]


def flat(line, prefix="learner"):
    """The numbers of a learner.jsonl line as TensorBoard tags them."""
    out = {}
    for name, v in line.items():
        if name in ("step", "agent"):
            continue
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}/{name}"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}/{name}"] = v
    return out


def test_every_number_reaches_tensorboard(tmp_path):
    lines = run(tmp_path, "--steps", "200")
    assert len(lines) == 3
    first = lines[0]
    for key in ("dormant_0", "dormant_0.1", "srank", "feature_norm", "weight_norm", "init_distance"):
        assert key in first, key
    assert set(first["dormant_by_layer"]) == {"s1", "s2"}
    assert 0 < first["init_distance"] < first["weight_norm"]
    assert 1 <= first["srank"] <= 65  # the features: 64 scent units and "moved"

    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for line in lines:
        numbers = flat(line)
        assert set(numbers) <= tags
        for tag, value in numbers.items():
            at = {e.step: e.value for e in events.Scalars(tag)}
            assert np.isclose(at[line["step"]], np.float32(value), rtol=1e-6, atol=0), (tag, line["step"])


def test_units_silenced_on_purpose_are_dormant(tmp_path):
    run(tmp_path / "trained", "--steps", "64")
    c = ck.load(tmp_path / "trained/learner.safetensors")
    half = c.weights["s1.bias"].shape[0] // 2
    # Half of the first scent layer's units get no input and no bias: after one small Adam step
    # their outputs are still far below their layer's mean.
    c.weights["s1.weight"][:, :half] = 0
    c.weights["s1.bias"][:half] = 0
    c.state = None
    ck.save(tmp_path / "silenced.safetensors", c)
    silenced = run(tmp_path / "silenced", "--steps", "100", "--load-learner", str(tmp_path / "silenced.safetensors"))
    untouched = run(tmp_path / "untouched", "--steps", "100", "--load-learner", str(tmp_path / "trained/learner.safetensors"))
    assert silenced[0]["dormant_by_layer"]["s1"] >= 0.5, silenced[0]
    assert untouched[0]["dormant_by_layer"]["s1"] < 0.2, untouched[0]
    assert "recycled" not in silenced[0]
    # ReDo after each update finds the silenced units dormant and recycles them: they fire again.
    redo = run(tmp_path / "redo", "--steps", "100", "--load-learner", str(tmp_path / "silenced.safetensors"),
               learner="ppo-scent(rollout: 64, redo: (every: 1))")
    assert redo[0]["recycled"] >= half, redo[0]
    assert redo[0]["dormant_by_layer"]["s1"] < 0.2, redo[0]
