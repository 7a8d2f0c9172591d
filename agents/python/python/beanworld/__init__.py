"""beanworld: a Jelly Bean World-style simulator for never-ending learning, from Python.

The engine is Rust (``beanworld._core``); this package wraps it as a Gymnasium environment::

    import beanworld
    env = beanworld.make("jbw-v0", seed=1)
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

``make`` takes a shipped scenario's name (``beanworld.scenarios()``), a path to a ``.ron`` file,
or scenario text, and replaces top-level scenario fields given as keyword arguments: a string is
RON text (``task='Fixed(Collect(item: "banana", value: 1))'``), a number is itself
(``seed=3``). The environment never ends on its own (``terminated`` is never set); ``truncate=N``
cuts it into segments of ``N`` steps for episodic code. ``info["trajectory_hash"]`` is the same
running hash ``beanworld run`` reports for the same scenario, seed and actions.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ._core import Env as _Core
from ._core import shipped as _shipped
from ._core import shipped_names as _shipped_names

__all__ = ["BeanworldEnv", "make", "scenarios"]


def scenarios() -> list[str]:
    """The names of the scenarios shipped with beanworld."""
    return list(_shipped_names())


def _scenario_text(scenario: str | os.PathLike) -> tuple[str, str]:
    """The text of ``scenario`` (a shipped name, a path or RON text) and a name for errors."""
    if isinstance(scenario, os.PathLike) or (isinstance(scenario, str) and scenario.endswith(".ron")):
        path = os.fspath(scenario)
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    if not isinstance(scenario, str):
        raise TypeError(f"scenario must be a name, a path or RON text, not {type(scenario).__name__}")
    text = _shipped(scenario)
    if text is not None:
        return text, f"{scenario}.ron"
    if "Scenario(" in scenario or scenario.lstrip().startswith("("):
        return scenario, "<scenario text>"
    raise ValueError(
        f"unknown scenario {scenario!r}: expected one of {', '.join(scenarios())}, a path to a .ron "
        "file, or scenario text"
    )


def _ron(value: Any) -> str:
    """A keyword argument's value as RON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, str):
        return value
    raise TypeError(f"a scenario override must be RON text or a number, not {type(value).__name__}")


class BeanworldEnv(gym.Env):
    """One beanworld world whose first agent the caller drives (the others follow their scenario's
    policies). Observations are a dict: ``vision`` ``(2R+1, 2R+1, C)`` float32 (``[right][forward]
    [channel]``, the agent facing "forward"), ``scent`` ``(S,)`` float32, ``moved`` (0 or 1) and
    ``inventory`` (items held, per type). Actions are numbered as ``actions`` lists them."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        text: str,
        file: str,
        overrides: dict[str, Any] | None = None,
        render_mode: str | None = None,
        truncate: int | None = None,
    ):
        pairs = [(str(k), _ron(v)) for k, v in (overrides or {}).items()]
        self._core = _Core(text, file, pairs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        if truncate is not None and (not isinstance(truncate, int) or truncate < 1):
            raise ValueError(f"truncate must be a number of steps ≥ 1, not {truncate!r}")
        self.render_mode = render_mode
        self.truncate = truncate
        self.actions = list(self._core.actions)
        self.items = list(self._core.items)
        self.action_space = spaces.Discrete(len(self.actions))
        self.observation_space = spaces.Dict(
            {
                "vision": spaces.Box(-np.inf, np.inf, shape=self._core.vision_shape, dtype=np.float32),
                "scent": spaces.Box(-np.inf, np.inf, shape=(self._core.scent_len,), dtype=np.float32),
                "moved": spaces.Discrete(2),
                "inventory": spaces.Box(0, 2**31 - 1, shape=(len(self.items),), dtype=np.int64),
            }
        )
        self._segment = 0

    def _obs(self) -> dict[str, Any]:
        return {
            "vision": self._core.vision(),
            "scent": self._core.scent(),
            "moved": int(self._core.moved),
            "inventory": self._core.inventory(),
        }

    def _info(self) -> dict[str, Any]:
        return {"step": self._core.time, "trajectory_hash": self._core.trajectory_hash, "seed": self._core.seed}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be an integer ≥ 0, not {seed!r}")
        self._core.reset(None if seed is None else int(seed))
        self._segment = 0
        return self._obs(), self._info()

    def step(self, action):
        if isinstance(action, np.ndarray):
            if action.shape != () or not np.issubdtype(action.dtype, np.integer):
                raise ValueError(
                    f"an action is one integer (0 … {len(self.actions) - 1}); got an array of shape "
                    f"{action.shape} and dtype {action.dtype}"
                )
            action = int(action)
        elif isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            raise TypeError(f"an action is one integer (0 … {len(self.actions) - 1}), not {type(action).__name__}")
        reward = self._core.step(int(action))
        self._segment += 1
        truncated = self.truncate is not None and self._segment >= self.truncate
        if truncated:
            self._segment = 0
        return self._obs(), float(reward), False, truncated, self._info()

    def render(self):
        if self.render_mode == "rgb_array":
            return self._core.render()
        return None

    def policy_action(self) -> int | None:
        """The action the first agent's scenario policy would take now (what ``beanworld run``
        gives it), or None if it has none among ``actions``."""
        return self._core.policy_action()

    @property
    def trajectory_hash(self) -> str:
        """The running hash of the trajectory, as ``beanworld run`` reports it."""
        return self._core.trajectory_hash


def make(
    scenario: str | os.PathLike = "jbw-v0",
    *,
    seed: int | None = None,
    render_mode: str | None = None,
    truncate: int | None = None,
    **overrides: Any,
) -> BeanworldEnv:
    """A Gymnasium environment over ``scenario`` (see the module's documentation)."""
    text, file = _scenario_text(scenario)
    if seed is not None:
        overrides = {"seed": seed, **overrides}
    return BeanworldEnv(text, file, overrides, render_mode=render_mode, truncate=truncate)
