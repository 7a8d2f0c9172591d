"""Our Rust learner driven from Python: collecting and updating is what `beanworld run --worlds`
does, bit for bit; an update taken apart into gradients applied one by one is the same update;
weights and gradients go out and back in as numpy arrays, and arrays of another network are
refused."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from beanworld.learner import Learner

ROOT = Path(__file__).resolve().parents[3]
NAME = "ppo-scent(hidden: 16, rollout: 32, minibatch: 32)"


def test_collect_and_update_is_the_batched_run_of_the_command(tmp_path):
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    # 97 steps of rollouts of 32: updates before steps 33, 65 and 97.
    subprocess.run(
        [binary, "run", str(ROOT / "scenarios/jbw-v0.ron"), "--agent", NAME, "--worlds", "2", "--seed", "4",
         "--steps", "97", "--out", str(tmp_path)],
        check=True, capture_output=True, text=True,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    learner = Learner(NAME, "jbw-v0", seeds=[4, 5])
    assert (learner.streams, learner.worlds) == (2, 2)
    assert learner.settings["rollout"] == 32 and learner.settings["epochs"] == 4  # given, and default
    rewards = 0.0
    for _ in range(3):
        rewards += learner.collect(32)
        stats = learner.update()
        assert stats is not None and stats["samples"] == 64 and stats["minibatches"] == 8
    rewards += learner.collect(1)
    assert learner.steps == 97 and learner.updates == 3 == summary["updates"]
    assert learner.weights_hash() == summary["weights_hash"]
    assert rewards == pytest.approx(summary["reward_rate"] * 97 * 2)
    assert learner.update() is not None  # the one step collected
    assert learner.update() is None  # nothing collected since


def test_an_update_taken_apart_is_the_same_update():
    whole, apart = Learner(NAME, "jbw-v0", seeds=[7]), Learner(NAME, "jbw-v0", seeds=[7])
    for _ in range(2):
        whole.collect(40)
        expected = whole.update()
        apart.collect(40)
        rounds = 0
        while (g := apart.gradients()) is not None:
            assert set(g) == set(apart.get_weights()) and all(v.dtype == np.float32 for v in g.values())
            apart.apply(g)
            rounds += 1
        assert rounds == expected["minibatches"] == 8  # 40 steps in minibatches of 32, 4 passes
        assert apart.last_update() == expected
        assert apart.weights_hash() == whole.weights_hash()
    with pytest.raises(ValueError, match="under way"):
        apart.collect(40)
        apart.gradients()
        apart.collect(1)


def test_weights_go_out_and_back_in_and_other_networks_are_refused(tmp_path):
    a, b = Learner(NAME, "jbw-v0", seeds=[1]), Learner(NAME, "jbw-v0", seeds=[2])
    assert a.weights_hash() != b.weights_hash()
    b.set_weights(a.get_weights())
    assert a.weights_hash() == b.weights_hash()
    w = a.get_weights()
    assert w["policy.weight"].shape == (17, 3)  # 16 units and "moved"; 3 actions
    w["policy.weight"][:] = 0
    b.set_weights(w)
    assert np.all(b.get_weights()["policy.weight"] == 0)

    other = Learner("ppo-scent(hidden: 8)", "jbw-v0")
    with pytest.raises(ValueError, match=r"s2.weight is \[32, 16\].*\[32, 8\]"):
        other.set_weights(a.get_weights())
    a.collect(8)
    g = a.gradients()
    assert g is not None
    with pytest.raises(ValueError, match="do not fit"):
        other.apply(g)
    g["s1.bias"] = g["s1.bias"][:3]
    with pytest.raises(ValueError, match="s1.bias"):
        a.apply(g)
    with pytest.raises(ValueError, match="float32"):
        a._core.apply({k: v.astype(np.float64) for k, v in a.get_weights().items()})
    # Any memory layout reads in its logical, row-major order.
    c = Learner(NAME, "jbw-v0", seeds=[3])
    c._core.set_weights({k: np.asfortranarray(v) for k, v in w.items()}, False)
    assert all(np.array_equal(c.get_weights()[k], v) for k, v in w.items())

    # Not mid-update: the steps it learns from are neither in the rollouts nor learned yet.
    with pytest.raises(ValueError, match="under way"):
        a.save(tmp_path / "a.safetensors")
    while a.gradients() is not None:
        pass
    a.save(tmp_path / "a.safetensors")
    again = Learner(NAME, "jbw-v0", seeds=[1])
    assert again.load(tmp_path / "a.safetensors") == {"state": True, "rollouts": True, "steps": 8}
    assert again.weights_hash() == a.weights_hash()


def test_unknown_learners_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="no batched learner is called \"dqn\""):
        Learner("dqn", "jbw-v0")
    with pytest.raises(ValueError, match="rollout"):
        Learner("ppo(rollout: 0)", "jbw-v0")
    with pytest.raises(ValueError, match="at least one world"):
        Learner("ppo", "jbw-v0", seeds=[])
    with pytest.raises(ValueError, match="has a teacher"):
        Learner("ppo", "experiments/seasons-taught")


def test_a_learner_of_an_environment_learns_in_its_worlds():
    import beanworld

    env = beanworld.make("jbw-v0", seed=3)
    learner = Learner.of(env, NAME)
    assert (learner.seeds, learner.worlds) == ([3], 1)
    vec = beanworld.make_vec("jbw-v0", 2, seed=5, threads=1)
    learner = Learner.of(vec, NAME)
    assert (learner.seeds, learner.worlds) == ([5, 6], 2)
    # The same worlds, by the reward of a fixed task: one point a step in each of them.
    fixed = Learner.of(beanworld.make("jbw-v0", seed=3, task='Fixed(Action(1))'), NAME)
    assert fixed.collect(10) == 10.0
    with pytest.raises(TypeError, match="beanworld environment"):
        Learner.of(object())


def test_a_learner_snapshot_resumes_bit_for_bit_here_and_from_the_command(tmp_path):
    # Stopped at step 40 (within a rollout), snapshot, resumed: the learner that did not stop.
    straight = Learner(NAME, "jbw-v0", seeds=[4, 5])
    for _ in range(3):
        straight.collect(32)
        straight.update()
    stopped = Learner(NAME, "jbw-v0", seeds=[4, 5])
    stopped.collect(32)
    stopped.update()
    stopped.collect(8)
    stopped.snapshot(tmp_path / "at40")
    resumed = Learner.resume(tmp_path / "at40", NAME, "jbw-v0")
    assert (resumed.steps, resumed.seeds, resumed.updates) == (40, [4, 5], 1)
    resumed.collect(24)
    resumed.update()
    resumed.collect(32)
    resumed.update()
    assert resumed.weights_hash() == straight.weights_hash()
    # Another learner, or a folder with no worlds, is refused with the reason.
    with pytest.raises(ValueError, match="not of this learner"):
        Learner.resume(tmp_path / "at40", "ppo-scent(hidden: 16, rollout: 16, minibatch: 32)", "jbw-v0")
    with pytest.raises(ValueError, match="holds no world"):
        Learner.resume(tmp_path, NAME, "jbw-v0")
    # A snapshot of the command's run over worlds resumes here too.
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    subprocess.run(
        [binary, "run", str(ROOT / "scenarios/jbw-v0.ron"), "--agent", NAME, "--worlds", "2", "--seed", "4",
         "--steps", "40", "--snapshot-every", "40", "--out", str(tmp_path / "run")],
        check=True, capture_output=True, text=True,
    )
    from_command = Learner.resume(tmp_path / "run/snapshots/40", NAME, "jbw-v0")
    from_command.collect(24)
    from_command.update()
    from_command.collect(32)
    from_command.update()
    assert from_command.weights_hash() == straight.weights_hash()

