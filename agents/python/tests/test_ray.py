"""Our PPO learner across Ray actors, on real Ray clusters started here: one actor is the local
learner bit for bit; two actors on a two-node cluster give the weights two actors give on one
node; a killed actor is restarted with the current weights and the run goes on, every step
counted once; the command writes a run directory whose checkpoint a local learner takes."""

import json
import subprocess
import sys

import pytest
import ray
from ray.cluster_utils import Cluster

from beanworld.learner import Learner
from beanworld.ray import DataParallel

NAME = "ppo-scent(hidden: 16, rollout: 32, minibatch: 32)"


@pytest.fixture
def one_node():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def trained(actors: int, worlds: int, updates: int, **kw) -> tuple[DataParallel, list[dict]]:
    dp = DataParallel("jbw-v0", NAME, actors=actors, worlds=worlds, seed=3, **kw)
    return dp, [dp.update() for _ in range(updates)]


def test_one_actor_is_the_local_learner(one_node):
    dp, stats = trained(1, 2, 3)
    local = Learner(NAME, "jbw-v0", seeds=[3, 4])
    for s in stats:
        local.collect(32)
        expected = local.update()
        assert s["policy_loss"] == expected["policy_loss"] and s["approx_kl"] == expected["approx_kl"]
        assert s["approx_kl"] > 0  # the replica computes each minibatch at the newest weights
    assert dp.learner.weights_hash() == local.weights_hash()
    assert (dp.steps, dp.env_steps, dp.rounds, dp.learner.updates) == (96, 192, 3 * 8, 3)


def test_two_actors_on_two_nodes_learn_what_they_learn_on_one():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, logging_level="ERROR")
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        dp, _ = trained(2, 1, 3)
        nodes = {ray.get(r.node.remote()) for r in dp.replicas}
        assert len(nodes) == 2, "each actor takes the one CPU of a node"
        on_two = dp.learner.weights_hash()
    finally:
        ray.shutdown()
        cluster.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        dp, stats = trained(2, 1, 3)
        assert dp.learner.weights_hash() == on_two
        assert stats[-1]["samples"] == 64  # both replicas' steps
    finally:
        ray.shutdown()


def test_a_killed_actor_is_restarted_and_the_run_goes_on(one_node):
    lines: list[str] = []
    dp, _ = trained(2, 1, 2, log=lines.append)
    dead = ray.get(dp.replicas[1].pid.remote())
    ray.kill(dp.replicas[1], no_restart=False)
    after = [dp.update() for _ in range(2)]
    assert dp.restarts == 1 and len(lines) == 1
    assert "replica 1 (seeds [4])" in lines[0] and f"process {dead}" in lines[0]
    assert ray.get(dp.replicas[1].pid.remote()) != dead
    # It collected again from its fresh worlds: every update learned from both replicas' steps,
    # and every step taken was counted once.
    assert all(s["samples"] == 64 for s in after)
    assert (dp.steps, dp.env_steps, dp.learner.updates) == (4 * 32, 4 * 32 * 2, 4)


def test_settings_of_one_replica_are_refused_across_actors(one_node):
    with pytest.raises(ValueError, match="redo is not supported across Ray actors"):
        DataParallel("jbw-v0", "ppo-scent(redo: (every: 5))", actors=1)
    with pytest.raises(ValueError, match="reward_scale is not supported across Ray actors"):
        DataParallel("jbw-v0", "ppo-scent(reward_scale: true)", actors=1)


def test_the_command_writes_a_run_directory_a_local_learner_continues(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "beanworld.ray", "--scenario", "jbw-v0", "--learner", NAME, "--actors", "2",
         "--worlds", "2", "--steps", "96", "--seed", "0", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "96 steps of 4 worlds on 2 actors" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["streams"], summary["steps"], summary["env_steps"], summary["updates"]) == (4, 96, 384, 3)
    assert summary["seeds"] == [0, 1, 2, 3] and summary["restarts"] == 0
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,streams,reward,reward_rate,env_steps_per_sec" and len(rows) == 4
    updates = [json.loads(line) for line in (out / "learner.jsonl").read_text().splitlines()]
    assert [u["update"] for u in updates] == [1, 2, 3] and all(u["samples"] == 128 for u in updates)
    local = Learner(NAME, "jbw-v0", seeds=[0])
    # The driver's learner: its weights, Adam's moments, the steps its replicas trained.
    assert local.load(out / "learner.safetensors") == {"state": True, "rollouts": True, "steps": 96}
    assert local.weights_hash() == summary["weights_hash"]
    assert local.updates == 3


def test_asynchronous_actors_learn_and_count_their_steps(one_node, tmp_path):
    dp, stats = trained(2, 1, 4, asynchronous=True)
    # Four replicas' updates of 32 steps, each of one of the two worlds: 64 steps of every world.
    assert dp.learner.updates == 4 and dp.env_steps == 4 * 32 and dp.steps == 64
    assert {s["replica"] for s in stats} <= {0, 1} and all(s["samples"] == 32 for s in stats)
    # Each replica's update is a PPO update of its own: the policy moves within it.
    assert all(s["approx_kl"] > 0 for s in stats)
    dp.learner.save(tmp_path / "async.safetensors")
    loaded = Learner(NAME, "jbw-v0", seeds=[3]).load(tmp_path / "async.safetensors")
    assert loaded["steps"] == 64
