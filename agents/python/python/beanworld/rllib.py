"""beanworld for RLlib: every agent of a scenario as one agent of an RLlib ``MultiAgentEnv``.

:class:`BeanworldMultiAgentEnv` drives the world of :func:`beanworld.parallel_env` (agents
``agent_<id>``, each with the observation and action spaces of a single-agent environment).
Importing this module registers it with Ray Tune as ``"beanworld"``, configured by a dict::

    from ray.rllib.algorithms.ppo import PPOConfig
    import beanworld.rllib  # registers "beanworld"
    config = PPOConfig().environment("beanworld", env_config={"scenario": "crowd", "truncate": 1000})

``env_config`` takes ``scenario`` (a shipped name, a path or RON text; ``crowd`` by default),
``seed``, ``truncate`` (RLlib learns from episodes: the never-ending world is cut into segments
of this many steps, 1,000 by default, each continuing where the last stopped), and
``overrides`` (top-level scenario fields, as :func:`beanworld.make` takes them). RLlib needs
``ray[rllib]``'s extra packages (``dm_tree``, ``pandas``, ``pyarrow``, ``scipy``, …).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.tune.registry import register_env

from . import parallel_env

__all__ = ["BeanworldMultiAgentEnv", "NAME"]

#: The name the environment is registered under.
NAME = "beanworld"


class BeanworldMultiAgentEnv(MultiAgentEnv):
    """Every agent of a beanworld scenario as an RLlib agent (see the module's doc)."""

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        config = dict(config or {})
        unknown = set(config) - {"scenario", "seed", "truncate", "overrides"}
        if unknown:
            raise ValueError(f"unknown env_config keys {sorted(unknown)}: expected scenario, seed, truncate, overrides")
        self._env = parallel_env(
            config.get("scenario", "crowd"),
            seed=config.get("seed"),
            truncate=config.get("truncate", 1000),
            **dict(config.get("overrides") or {}),
        )
        names: list[str] = list(self._env.possible_agents)
        self.possible_agents = list(names)
        self.agents = list(names)
        observation_spaces: dict[str, gym.Space[Any]] = {a: self._env.observation_space(a) for a in names}
        action_spaces: dict[str, gym.Space[Any]] = {a: self._env.action_space(a) for a in names}
        # RLlib's own attributes are keyed by any hashable agent id.
        self.observation_spaces = {a: observation_spaces[a] for a in names}
        self.action_spaces = {a: action_spaces[a] for a in names}
        self.observation_space = gym.spaces.Dict(observation_spaces)
        self.action_space = gym.spaces.Dict(action_spaces)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Continues the world where the last segment stopped; with ``seed``, starts it anew."""
        if seed is not None:
            observations, infos = self._env.reset(seed=seed, options=options)
        else:
            # The world never ends: a new episode is the next segment of the same stream.
            observations = self._env.next_segment()
            infos = {a: {} for a in observations}
        self.agents = list(self._env.agents)
        return observations, infos

    def step(self, action_dict: dict[Any, Any]):
        observations, rewards, terminateds, truncateds, infos = self._env.step(action_dict)
        self.agents = list(self._env.agents)
        terminateds["__all__"] = False
        truncateds["__all__"] = all(truncateds.values())
        return observations, rewards, terminateds, truncateds, infos

    def close(self) -> None:
        self._env.close()

    @property
    def world(self):
        """The PettingZoo environment underneath (``set_task``, ``save``, ``trajectory_hash``, …)."""
        return self._env


register_env(NAME, lambda config: BeanworldMultiAgentEnv(config))
