"""A learner checkpoint written by `beanworld run --worlds` comes out as numpy arrays, and arrays
changed in numpy go back in with `--load-learner`; a network of another shape is refused."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np

import beanworld.checkpoint as ck

ROOT = Path(__file__).resolve().parents[3]
LEARNER = "ppo-scent(rollout: 64)"


def run(out, *extra, check=True):
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    return subprocess.run(
        [binary, "run", str(ROOT / "scenarios/jbw-v0.ron"), "--agent", LEARNER, "--worlds", "2",
         "--seed", "4", "--out", str(out), *extra],
        check=check, capture_output=True, text=True,
    )


def test_weights_come_out_as_numpy_and_go_back_in(tmp_path):
    run(tmp_path / "trained", "--steps", "200")
    c = ck.load(tmp_path / "trained/learner.safetensors")
    assert c.about["learner"] == LEARNER
    assert (c.about["streams"], c.about["steps"], c.about["updates"]) == (2, 200, 3)
    assert c.state is not None and c.state.dtype == np.uint8
    hidden = c.about["shape"]["hidden"]
    assert c.weights["policy.weight"].shape == (hidden + 1, 3)  # scent features and "moved", 3 actions
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in c.weights.values())

    # Zero the policy head and drop the state: the next run starts from exactly these weights.
    c.weights["policy.weight"][:] = 0
    c.weights["policy.bias"][:] = 0
    c.state = None
    ck.save(tmp_path / "edited.safetensors", c)
    # Fewer steps than a rollout: no update, so the weights saved are the ones loaded.
    said = run(tmp_path / "loaded", "--steps", "10", "--load-learner", str(tmp_path / "edited.safetensors"))
    assert "the weights only" in said.stderr
    back = ck.load(tmp_path / "loaded/learner.safetensors")
    assert set(back.weights) == set(c.weights)
    for name, w in c.weights.items():
        assert np.array_equal(back.weights[name], w), name
    assert back.about["steps"] == 210 and back.about["updates"] == 0
    summary = json.loads((tmp_path / "loaded/summary.json").read_text())
    assert summary["steps"] == 10

    # A network of another shape is refused, the array named.
    c.weights["policy.weight"] = np.zeros((5, 3), dtype=np.float32)
    ck.save(tmp_path / "wrong.safetensors", c)
    refused = run(tmp_path / "wrong", "--steps", "10", "--load-learner", str(tmp_path / "wrong.safetensors"), check=False)
    assert refused.returncode == 1
    assert "policy.weight is [5, 3] in the checkpoint" in refused.stderr, refused.stderr
