"""The RLlib adapter: every agent of a scenario is an RLlib agent, the environment passes RLlib's
own checker, it is registered with Ray Tune, and its episodes are segments of one unbroken
world."""

import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest
from ray.rllib.utils.pre_checks.env import check_multiagent_environments

import beanworld
from beanworld.rllib import BeanworldMultiAgentEnv


def test_rllibs_checker_passes_without_a_warning(caplog):
    env = BeanworldMultiAgentEnv({"scenario": "crowd", "truncate": 20, "seed": 3})
    assert len(env.possible_agents) == 16 and env.possible_agents[0] == "agent_1"
    # The checker warns through Python's warnings and through its logger.
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        check_multiagent_environments(env)
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_registered_with_tune_on_import():
    # In a fresh interpreter, as a user's script starts (Ray moves its registry into a cluster's
    # store when one starts, so this process's registry depends on the tests run before).
    code = (
        "import beanworld.rllib\n"
        "from ray.tune.registry import ENV_CREATOR, _global_registry\n"
        "env = _global_registry.get(ENV_CREATOR, 'beanworld')({'scenario': 'jbw-v0', 'truncate': 5})\n"
        "print(type(env).__name__, env.possible_agents)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "BeanworldMultiAgentEnv ['agent_1']"


def test_episodes_continue_the_world():
    env = BeanworldMultiAgentEnv({"scenario": "crowd", "truncate": 3, "seed": 5})
    obs, _ = env.reset(seed=5)
    still = {a: 0 for a in env.agents}  # "forward" is action 0; any fixed actions will do
    for t in range(3):
        obs, rewards, terminateds, truncateds, _ = env.step(still)
        assert terminateds["__all__"] is False and truncateds["__all__"] is (t == 2)
    assert env.agents == []
    # The next episode goes on from where the world stopped: the same stream as one unbroken
    # PettingZoo environment stepped 6 times.
    env.reset()
    for _ in range(3):
        env.step(still)
    unbroken = beanworld.parallel_env("crowd", seed=5)
    unbroken.reset(seed=5)
    for _ in range(6):
        unbroken.step(still)
    assert env.world.trajectory_hash == unbroken.trajectory_hash
    assert np.array_equal(env.world._obs(0)["vision"], unbroken._obs(0)["vision"])


def test_unknown_config_keys_are_refused():
    with pytest.raises(ValueError, match=r"unknown env_config keys \['worlds'\]"):
        BeanworldMultiAgentEnv({"worlds": 4})
