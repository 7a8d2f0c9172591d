"""The Gymnasium environment over the Rust engine: Gymnasium's own checker, the same trajectory as
`beanworld run`, clear errors for bad arguments, rendering and truncation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import beanworld

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", ["jbw-v0", "jbw-v1", "jbw-paper", "seasons"])
def test_gymnasium_checker_passes(name):
    env = beanworld.make(name, seed=2, render_mode="rgb_array")
    check_env(env, skip_render_check=False)


def test_every_shipped_scenario_is_registered_with_gymnasium():
    import warnings

    import gymnasium as gym

    # Every scenario file (the suite's tracks are not scenarios) is shipped in the package.
    files = sorted(
        p.relative_to(ROOT / "scenarios").with_suffix("").as_posix()
        for p in (ROOT / "scenarios").rglob("*.ron")
        if p.parent.name != "suite"
    )
    assert sorted(beanworld.scenarios()) == files
    ids = beanworld.gym_ids()
    assert ids["jbw-v0"] == "beanworld/JBW-v0" and ids["jbw-paper"] == "beanworld/JBW-paper"
    assert ids["experiments/paper-vision"] == "beanworld/experiments.paper-vision"
    assert all(env_id in gym.registry for env_id in ids.values())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make("beanworld/JBW-v1", seed=4, render_mode="rgb_array")
        assert env.spec.id == "beanworld/JBW-v1"
        # With a spec the checker also remakes it (other render modes, determinism, closing).
        check_env(env.unwrapped, skip_render_check=False)
        # The registered env is beanworld.make's: the same trajectory.
        env.reset(seed=4)
        direct = beanworld.make("jbw-v1")
        direct.reset(seed=4)
        for _ in range(50):
            info = env.step(1)[4]
        for _ in range(50):
            expected = direct.step(1)[4]
        assert info["trajectory_hash"] == expected["trajectory_hash"]
        vec = gym.make_vec("beanworld/experiments.paper-scent", num_envs=3, seed=7)
        assert isinstance(vec.unwrapped, beanworld.BeanworldVectorEnv)
        assert vec.num_envs == 3 and vec.spec.id == "beanworld/experiments.paper-scent"
        obs, _ = vec.reset()
        # A seed per world is the same as the first and those after it.
        listed, _ = vec.reset(seed=[7, 8, 9])
        assert all(np.array_equal(obs[k], listed[k]) for k in obs)
        assert obs["scent"].shape == (3, vec.unwrapped.single_observation_space["scent"].shape[0])
        vec.step(np.zeros(3, dtype=np.int64))
    # Nothing but the checker's note that scent and the task are unbounded (they are): no
    # missing spec, no warning of the vector env's.
    unexpected = [str(w.message) for w in caught if "infinity" not in str(w.message)]
    assert not unexpected, unexpected


def test_same_seed_same_trajectory_as_beanworld_run(tmp_path):
    # The CLI drives the first agent with its scenario policy (walk); so does this loop.
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    steps, seed = 300, 3
    subprocess.run(
        [binary, "run", str(ROOT / "scenarios/jbw-v0.ron"), "--steps", str(steps), "--seed", str(seed),
         "--out", str(tmp_path)],
        check=True, capture_output=True,
    )
    expected = json.loads((tmp_path / "summary.json").read_text())["trajectory_hash"]
    env = beanworld.make("jbw-v0", seed=seed)
    env.reset()
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(env.policy_action())
        assert not terminated and not truncated
    assert info["trajectory_hash"] == expected
    # Another seed, another trajectory; the same seed again, the same one.
    env.reset(seed=seed + 1)
    for _ in range(steps):
        env.step(env.policy_action())
    assert env.trajectory_hash != expected
    env.reset(seed=seed)
    for _ in range(steps):
        env.step(env.policy_action())
    assert env.trajectory_hash == expected


def test_observations_follow_the_declared_spaces():
    env = beanworld.make("jbw-paper", seed=0)
    obs, info = env.reset()
    assert obs["vision"].shape == (17, 17, 3) and obs["vision"].dtype == np.float32
    assert obs["scent"].shape == (3,) and obs["inventory"].shape == (6,)
    assert env.actions == ["forward", "turn left", "turn right"]
    assert env.observation_space.contains(obs)
    assert info["step"] == 0


def test_overrides_replace_scenario_fields():
    plain = beanworld.make("jbw-v0", seed=1)
    bananas = beanworld.make("jbw-v0", seed=1, task='Fixed(Collect(item: "banana", value: 1))')
    walls = beanworld.make("jbw-v0", seed=1, vision="(range: 3)")
    assert walls.observation_space["vision"].shape == (7, 7, 3)
    for env in (plain, bananas):
        env.reset()
    # Same world and actions, different rewards.
    rewards = [[], []]
    for _ in range(2000):
        for k, env in enumerate((plain, bananas)):
            rewards[k].append(env.step(env.policy_action())[1])
    assert plain.trajectory_hash != bananas.trajectory_hash
    assert sum(rewards[0]) != sum(rewards[1])


def test_bad_arguments_raise_clear_exceptions():
    with pytest.raises(ValueError, match="unknown scenario field `visoin`"):
        beanworld.make("jbw-v0", visoin="(range: 3)")
    with pytest.raises(ValueError, match="override `vision`:1:2"):
        beanworld.make("jbw-v0", vision="(rnage: 3)")
    with pytest.raises(ValueError, match="vision range 40 is larger than half the patch size"):
        beanworld.make("jbw-v0", vision="(range: 40)")
    with pytest.raises(ValueError, match="unknown scenario 'jbw-v9'"):
        beanworld.make("jbw-v9")
    env = beanworld.make("jbw-v0")
    env.reset()
    with pytest.raises(ValueError, match=r"action 3 is out of range: expected 0 … 2"):
        env.step(3)
    with pytest.raises(ValueError, match="action -1 is out of range"):
        env.step(-1)
    with pytest.raises(ValueError, match=r"got an array of shape \(2,\)"):
        env.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="dtype float32"):
        env.step(np.array(1.0, dtype=np.float32))
    with pytest.raises(TypeError, match="not str"):
        env.step("forward")
    # Nothing above broke the environment.
    assert env.step(np.int64(0))[4]["step"] == 1


def test_render_draws_the_world_around_the_agent():
    env = beanworld.make("jbw-v0", seed=0, render_mode="rgb_array")
    env.reset()
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 2, "items and an agent on the background"


def test_never_ending_unless_truncated():
    env = beanworld.make("jbw-v0", truncate=5)
    env.reset()
    flags = [env.step(0)[3] for _ in range(12)]
    assert flags == [False] * 4 + [True] + [False] * 4 + [True] + [False] * 2


def test_vector_env_world_equals_the_single_env_and_declares_its_spaces():
    from gymnasium.vector import AutoresetMode

    vec = beanworld.make_vec("jbw-v0", 4, seed=5, threads=2)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = vec.reset()
    assert obs["vision"].shape == (4, 11, 11, 3) and vec.observation_space.contains(obs)
    single = beanworld.make("jbw-v0", seed=7)  # world 2 of the vector env has seed 5 + 2
    single.reset()
    rng = np.random.default_rng(0)
    for _ in range(300):
        actions = rng.integers(0, 3, size=4)
        vo, vr, vterm, vtrunc, _ = vec.step(actions)
        so, sr, *_ = single.step(int(actions[2]))
        assert np.array_equal(vo["vision"][2], so["vision"]) and np.array_equal(vo["scent"][2], so["scent"])
        assert vr[2] == sr and vo["moved"][2] == so["moved"]
        assert not vterm.any() and not vtrunc.any()
    with pytest.raises(ValueError, match="expected 4 integer actions"):
        vec.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="world 1: action 7 is out of range"):
        vec.step(np.array([0, 7, 0, 0]))
    with pytest.raises(ValueError, match="drives one agent per world"):
        beanworld.make_vec("crowd", 2)


def test_vector_env_without_copies_reuses_its_arrays_and_truncates_segments():
    vec = beanworld.make_vec("jbw-v0", 2, seed=0, threads=1, truncate=3, copy=False)
    first, _ = vec.reset()
    flags = []
    for _ in range(6):
        obs, _, _, truncated, _ = vec.step(np.zeros(2, dtype=np.int64))
        assert obs["vision"] is first["vision"], "the same buffer, filled in place"
        flags.append(bool(truncated[0]))
    assert flags == [False, False, True, False, False, True]


def test_pettingzoo_parallel_api_passes_on_crowd():
    from pettingzoo.test import parallel_api_test

    env = beanworld.parallel_env("crowd", seed=1)
    assert env.possible_agents == [f"agent_{i}" for i in range(1, 17)]
    parallel_api_test(env, num_cycles=200)


def test_parallel_env_is_deterministic_and_refuses_bad_actions():
    def run(seed):
        env = beanworld.parallel_env("crowd", seed=seed)
        env.reset()
        rng = np.random.default_rng(3)
        for _ in range(100):
            env.step({a: int(rng.integers(3)) for a in env.agents})
        return env.trajectory_hash

    assert run(4) == run(4) != run(5)
    env = beanworld.parallel_env("crowd")
    env.reset()
    with pytest.raises(ValueError, match="missing"):
        env.step({"agent_1": 0})
    with pytest.raises(ValueError, match="agent 3: action 9 is out of range"):
        env.step({a: (9 if a == "agent_3" else 0) for a in env.agents})
    with pytest.raises(ValueError, match="adds or removes agents"):
        beanworld.parallel_env("story")


def test_snapshots_and_task_control_from_python(tmp_path):
    env = beanworld.make("jbw-v0", seed=2)
    env.reset()
    rng = np.random.default_rng(9)
    actions = rng.integers(0, 3, size=400)
    for a in actions[:200]:
        env.step(int(a))
    env.set_param("jellybean.intensity", 1.0)
    env.set_task('Fixed(Collect(item: "banana", value: 1))')
    env.save(tmp_path / "200.snap")
    for a in actions[200:]:
        env.step(int(a))
    whole = env.trajectory_hash
    again = beanworld.make("jbw-v0", seed=2)
    again.reset()
    obs = again.load(tmp_path / "200.snap")
    assert again.observation_space.contains(obs)
    for a in actions[200:]:
        again.step(int(a))
    assert again.trajectory_hash == whole, "the parameter and task set before the snapshot travel in it"
    with pytest.raises(ValueError, match="unknown item \"jelybean\""):
        env.set_param("jelybean.intensity", 1.0)
    with pytest.raises(ValueError, match="expected a finite value"):
        env.set_param("jellybean.intensity", float("nan"))
    with pytest.raises(ValueError, match="task"):
        env.set_task("Fixed(Colect(item: \"banana\", value: 1))")
    with pytest.raises(ValueError, match="missing.snap: No such file"):
        env.load(tmp_path / "missing.snap")
    other = beanworld.make("jbw-v1", seed=2)
    with pytest.raises(ValueError, match="snapshot"):
        other.load(tmp_path / "200.snap")


def test_observations_carry_the_task_for_reward_aware_learners():
    # The cyclical scenario: jelly beans +1 and onions −1, reversed every 100,000 steps.
    env = beanworld.make("cyclical", seed=1)
    obs, _ = env.reset()
    items = env.items
    expected = np.zeros(len(items) + 2, dtype=np.float32)
    expected[items.index("jellybean")], expected[items.index("onion")] = 1, -1
    assert obs["task"].dtype == np.float32 and np.array_equal(obs["task"], expected)
    env.set_task('Fixed(Sum([Collect(item: "banana", value: 2), Action(-0.5), Explore(0.25)]))')
    obs, *_ = env.step(0)
    expected[:] = 0
    expected[items.index("banana")], expected[-2], expected[-1] = 2, -0.5, 0.25
    assert np.array_equal(obs["task"], expected), obs["task"]
    vec = beanworld.make_vec("cyclical", 2, seed=1, threads=1)
    obs, _ = vec.reset()
    assert obs["task"].shape == (2, len(items) + 2) and obs["task"][1, items.index("onion")] == -1
    vec.set_task("Fixed(Action(1))")
    obs, *_ = vec.step(np.zeros(2, dtype=np.int64))
    assert obs["task"][:, -2].tolist() == [1.0, 1.0] and not obs["task"][:, :-2].any()
    par = beanworld.parallel_env("crowd", seed=2)
    obs, _ = par.reset()
    first = obs[par.agents[0]]["task"]
    assert first[par._core.items.index("jellybean")] == 1 and par.observation_space(par.agents[0]).contains(
        obs[par.agents[0]]
    )


def test_examples_run(tmp_path):
    # The documentation's examples, as a user runs them (the Ray one starts a local Ray instance).
    examples = ROOT / "agents/python/examples"
    out = subprocess.run([sys.executable, examples / "random_agent.py"], check=True, capture_output=True, text=True)
    assert "10000 steps" in out.stdout
    out = subprocess.run([sys.executable, examples / "numpy_q_learning.py"], check=True, capture_output=True, text=True)
    last = float(out.stdout.splitlines()[-1].split(": ")[1].split()[0])
    assert last > 0.01, f"the NumPy learner collects far more than random (0.001): {out.stdout}"
    out = subprocess.run(
        [sys.executable, examples / "ray_ppo.py", "--actors", "2", "--worlds", "2", "--steps", "320",
         "--learner", "ppo-scent(hidden: 16, rollout: 64)", "--out", "ray-ppo"],
        check=True, capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    curves = [line.split(":")[1].split() for line in out.stdout.splitlines() if line.startswith(("  Ray:", "  alone:"))]
    assert len(curves) == 2 and all(len(c) == 5 for c in curves), out.stdout + out.stderr
    assert (tmp_path / "ray-ppo/learner.safetensors").is_file()


def test_the_parallel_env_perceives_the_same_on_more_threads():
    # 16 agents observed on 1 thread and on 3: the same observations, step after step.
    one = beanworld.parallel_env("crowd", seed=4)
    three = beanworld.parallel_env("crowd", seed=4, perception_threads=3)
    assert (one._core.perception_threads, three._core.perception_threads) == (1, 3)
    obs1, _ = one.reset()
    obs3, _ = three.reset()
    for t in range(60):
        actions = {a: (t + k) % 3 for k, a in enumerate(one.agents)}
        obs1, *_ = one.step(actions)
        obs3, *_ = three.step(actions)
        for a in one.agents:
            assert np.array_equal(obs1[a]["vision"], obs3[a]["vision"]) and np.array_equal(obs1[a]["scent"], obs3[a]["scent"])
    assert one.trajectory_hash == three.trajectory_hash
    with pytest.raises(ValueError, match="perception_threads"):
        beanworld.parallel_env("crowd", perception_threads=0)


def test_vector_and_parallel_envs_take_task_control_and_snapshots(tmp_path):
    vec = beanworld.make_vec("jbw-v0", 2, seed=0, threads=1)
    vec.reset()
    vec.set_task("Fixed(Action(1))")  # one point a step, whatever happens
    _, rewards, *_ = vec.step(np.zeros(2, dtype=np.int64))
    assert rewards.tolist() == [1.0, 1.0]
    vec.set_param("jellybean.intensity", 2.0)
    with pytest.raises(ValueError, match="unknown item"):
        vec.set_param("bean.intensity", 1.0)
    par = beanworld.parallel_env("crowd", seed=2)
    par.reset()
    par.set_task("Fixed(Action(-1))")
    _, rewards, *_ = par.step({a: 0 for a in par.agents})
    assert set(rewards.values()) == {-1.0}
    par.save(tmp_path / "crowd.snap")
    steps = [{a: int(k % 3) for k, a in enumerate(par.agents)} for _ in range(50)]
    for actions in steps:
        par.step(actions)
    whole = par.trajectory_hash
    again = beanworld.parallel_env("crowd", seed=2)
    again.reset()
    again.load(tmp_path / "crowd.snap")
    for actions in steps:
        again.step(actions)
    assert again.trajectory_hash == whole


def test_a_python_driven_run_records_an_action_log_that_replays_without_python(tmp_path):
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    env = beanworld.make("jbw-v0", seed=5)
    env.reset()
    log = tmp_path / "python.actions"
    env.record_actions(log)
    rng = np.random.default_rng(0)
    for t in range(500):
        if t == 200:
            env.set_param("jellybean.intensity", -1.0)
            env.set_task('Fixed(Collect(item: "banana", value: 2))')
        env.step(int(rng.integers(len(env.actions))))
    env.stop_recording()
    out = subprocess.run([binary, "replay", str(log)], check=True, capture_output=True, text=True).stdout
    assert out.startswith("500 steps of"), out
    assert f"trajectory {env.trajectory_hash}" in out, out
    # Recording starts with the world, not in the middle of its life.
    with pytest.raises(ValueError, match="record after reset"):
        env.record_actions(tmp_path / "late.actions")


def test_a_served_env_is_watched_by_beanworld_watch(tmp_path):
    import socket
    import struct
    import threading

    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    env = beanworld.make("jbw-v0", seed=3, serve=True)
    host, port = env.served_on.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    with pytest.raises(ValueError, match="already serves"):
        env.serve(0)
    env.reset()
    # The protocol by hand: the greeting, then views while the world steps.
    raw = socket.create_connection((host, int(port)), timeout=10)
    assert raw.recv(8, socket.MSG_WAITALL) == b"BWVIEW01"
    for _ in range(300):
        env.step(0)
    (length,) = struct.unpack("<I", raw.recv(4, socket.MSG_WAITALL))
    assert 0 < length < 1 << 23 and len(raw.recv(length, socket.MSG_WAITALL)) == length
    raw.close()
    # The real viewer on a virtual display attaches, draws and leaves while Python steps.
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-noreset", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        display = ":" + xvfb.stdout.readline().strip()
        shot = tmp_path / "shot.png"
        viewer = subprocess.Popen(
            [binary, "watch", "--attach", env.served_on, "--size", "320x240", "--screenshot", str(shot), "--exit"],
            env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        done = threading.Event()
        waited = threading.Thread(target=lambda: (viewer.wait(timeout=120), done.set()))
        waited.start()
        while not done.is_set():
            env.step(0)
        waited.join()
        assert viewer.returncode == 0, viewer.stderr.read()
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        xvfb.kill()
        xvfb.wait()
    # Served or not, the same world.
    plain = beanworld.make("jbw-v0", seed=3)
    plain.reset()
    steps = env._core.time
    for _ in range(steps):
        plain.step(0)
    assert plain._core.trajectory_hash == env._core.trajectory_hash


def test_closing_a_served_env_closes_its_port():
    import socket
    import time

    env = beanworld.make("jbw-v0", serve=0)
    host, port = env.served_on.rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=5).close()
    env.close()
    assert env.served_on is None
    time.sleep(0.5)  # the server notices within 50 ms
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5)
    env.step(0)  # the world goes on unserved


def test_the_python_examples_in_the_docs_run(tmp_path):
    # Every ```python block of the book, each in a fresh interpreter, from a folder that has the
    # repository's scenarios (as its root has) and what the text before the block made.
    binary = os.environ.get("BEANWORLD_BIN")
    assert binary and Path(binary).is_file(), "BEANWORLD_BIN must name the beanworld binary (.ci/run sets it)"
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    subprocess.run(
        [binary, "run", "scenarios/jbw-v0.ron", "--agent", "ppo-scent", "--worlds", "2", "--steps", "600",
         "--out", "out"],
        check=True, capture_output=True, cwd=tmp_path,
    )
    ran = 0
    for page in sorted((ROOT / "docs/src").rglob("*.md")):
        for k, block in enumerate(page.read_text().split("```python\n")[1:]):
            code = block.split("```")[0]
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                                 timeout=300)
            assert out.returncode == 0, f"{page.name}, example {k + 1}:\n{code}\n{out.stderr}"
            ran += 1
    assert ran >= 4
    assert (tmp_path / "edited.safetensors").is_file() and (tmp_path / "suite-out/report.md").is_file()


def test_new_patches_sampled_on_one_thread_or_three_make_the_same_walk():
    # Walking into new ground: worlds made with generation on 1 thread and on 3 walk alike.
    default = beanworld.generation_threads()
    hashes = []
    try:
        for threads in (1, 3):
            beanworld.set_generation_threads(threads)
            assert beanworld.generation_threads() == threads
            env = beanworld.make("jbw-v0", seed=5)
            env.reset()
            for _ in range(2000):
                env.step(env.policy_action())
            hashes.append(env.trajectory_hash)
    finally:
        beanworld.set_generation_threads(0)
    assert beanworld.generation_threads() == default >= 1
    assert hashes[0] == hashes[1]
