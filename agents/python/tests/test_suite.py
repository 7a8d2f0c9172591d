"""A learner written in Python lives the suite's protocol through the same code as ours: the same
result files, repeated byte for byte, in one report beside a Rust learner; a learner that
cannot be one, or fails, is refused with the reason."""

import json
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

import beanworld.suite

ROOT = Path(__file__).resolve().parents[3]
TRACK = str(ROOT / "scenarios/suite/cyclical.ron")


class Bandit:
    """An ε-greedy bandit over the actions: a value per action, learned from the rewards."""

    def __init__(self, seed, agent_id, actions):
        self.rng = np.random.default_rng([seed, agent_id])
        self.values = np.zeros(len(actions))
        self.counts = np.zeros(len(actions))
        self.frozen = False
        self.learned = 0

    def act(self, observation):
        assert observation["vision"].ndim == 3 and observation["scent"].ndim == 1
        if self.rng.random() < 0.1:
            return int(self.rng.integers(len(self.values)))
        return int(np.argmax(self.values))

    def learn(self, previous, observation):
        if self.frozen:
            return
        self.learned += 1
        self.counts[previous] += 1
        self.values[previous] += (observation["reward"] - self.values[previous]) / self.counts[previous]

    def save(self):
        return pickle.dumps((self.rng.bit_generator.state, self.values, self.counts, self.learned))

    def load(self, state):
        generator, self.values, self.counts, self.learned = pickle.loads(state)
        self.rng.bit_generator.state = generator

    def freeze(self):
        self.frozen = True
        return True


def life(out, seed=0):
    return out / f"cyclical/bandit/smoke-seed-{seed}"


def test_a_python_learner_lives_the_protocol_and_repeats(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert beanworld.suite.run([TRACK], Bandit, name="bandit", out=a, seeds=2, jobs=2, smoke=True) == 2
    assert beanworld.suite.run([TRACK], Bandit, name="bandit", out=b, seeds=2, smoke=True) == 2
    for seed in (0, 1):
        for file in ("result.json", "evals.csv"):
            assert (life(a, seed) / file).read_bytes() == (life(b, seed) / file).read_bytes(), file
    result = json.loads((life(a) / "result.json").read_text())
    assert result["format"] == "beanworld-suite-life-2"
    assert result["learner"] == "bandit" and result["tasks"] == ["jelly beans", "onions"]
    assert len(result["evals"]) == 2 and all(len(scores) == 2 for _, scores in result["evals"])
    # The life was scored: what it collected is in its metrics, as for any run.
    assert (life(a) / "metrics.csv").read_text().splitlines()[0].startswith("step,agent,steps,reward")
    # Lived already: a second call does nothing more.
    before = (life(a) / "result.json").stat().st_mtime_ns
    beanworld.suite.run([TRACK], Bandit, name="bandit", out=a, seeds=2, smoke=True)
    assert (life(a) / "result.json").stat().st_mtime_ns == before


def test_python_and_rust_learners_share_a_report(tmp_path):
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    beanworld.suite.run([TRACK], Bandit, name="bandit", out=tmp_path, seeds=2, smoke=True)
    subprocess.run(
        [binary, "suite", "run", TRACK, "--learner", "random", "--seeds", "2", "--smoke", "--out", str(tmp_path)],
        check=True, capture_output=True,
    )
    path = beanworld.suite.report(tmp_path)
    text = path.read_text()
    assert path == tmp_path / "report.md"
    assert "| `bandit` | 2 |" in text and "| `random` | 2 |" in text, text
    assert (tmp_path / "cyclical-smoke.png").is_file()


def test_what_cannot_be_a_learner_is_refused(tmp_path):
    class Forgetful(Bandit):
        save = None

    with pytest.raises(RuntimeError, match="has no save"):
        beanworld.suite.run([TRACK], lambda s, i, a: type("X", (), {"act": 0, "learn": 0, "load": 0})(),
                            name="nosave", out=tmp_path, seeds=1, smoke=True)
    with pytest.raises(ValueError, match="built-in agent"):
        beanworld.suite.run([TRACK], Bandit, name="random", out=tmp_path, seeds=1, smoke=True)
    with pytest.raises(ValueError, match="at least one track"):
        beanworld.suite.run([], Bandit, name="bandit", out=tmp_path)

    class Broken(Bandit):
        def act(self, observation):
            if observation["step"] >= 100:
                raise ArithmeticError("out of ideas")
            return super().act(observation)

    with pytest.raises(RuntimeError, match=r"(?s)\"broken\" failed in act\(\).*out of ideas"):
        beanworld.suite.run([TRACK], Broken, name="broken", out=tmp_path, seeds=1, smoke=True)

    class Unsaved(Bandit):
        def save(self):
            raise OSError("disk full")

    # Nothing scores or resumes a learner without its state: the run stops.
    with pytest.raises(RuntimeError, match="unsaved"):
        beanworld.suite.run([TRACK], Unsaved, name="unsaved", out=tmp_path, seeds=1, smoke=True)
    # What it did before it failed is kept, with a snapshot to go on from.
    assert (tmp_path / "cyclical/broken/smoke-seed-0/metrics.csv").is_file()
