"""beanworld: a Jelly Bean World-style simulator for never-ending learning, from Python.

The engine is Rust (``beanworld._core``); this package wraps it as a Gymnasium environment::

    import beanworld
    env = beanworld.make("jbw-v0", seed=1)
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Every shipped scenario is also registered with Gymnasium when ``beanworld`` is imported
(:func:`gym_ids`), so ``gymnasium.make("beanworld/JBW-v0")`` and
``gymnasium.make_vec("beanworld/JBW-v0", num_envs=8)`` work, with a spec; without importing
``beanworld`` first, name the module: ``gymnasium.make("beanworld:beanworld/JBW-v0")``.

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
from ._core import Worlds as _Worlds
from ._core import generation_threads, set_generation_threads
from ._core import shipped as _shipped
from ._core import shipped_names as _shipped_names

__all__ = [
    "BeanworldEnv",
    "BeanworldParallelEnv",
    "BeanworldVectorEnv",
    "generation_threads",
    "gym_ids",
    "make",
    "make_vec",
    "parallel_env",
    "scenarios",
    "set_generation_threads",
]


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


def _single_spaces(core) -> tuple[spaces.Discrete, spaces.Dict]:
    """The action and observation spaces of one agent of ``core`` (an ``Env`` or ``Worlds``)."""
    items = len(core.items)
    return spaces.Discrete(len(core.actions)), spaces.Dict(
        {
            "vision": spaces.Box(-np.inf, np.inf, shape=core.vision_shape, dtype=np.float32),
            "scent": spaces.Box(-np.inf, np.inf, shape=(core.scent_len,), dtype=np.float32),
            "moved": spaces.Discrete(2),
            "inventory": spaces.Box(0, 2**31 - 1, shape=(items,), dtype=np.int64),
            "task": spaces.Box(-np.inf, np.inf, shape=(core.task_len,), dtype=np.float32),
        }
    )


class _OneWorld:
    """What an environment over one world (``self._core``) offers beside stepping: action logs,
    and views for ``beanworld watch --attach``."""

    _core: _Core
    #: The address views are served on (``HOST:PORT``), once :meth:`serve` was called.
    served_on: str | None = None

    def serve(self, addr: int | str = 0) -> str:
        """Serves views of the world to ``beanworld watch --attach ADDR`` from the next step on,
        as ``beanworld run --serve`` does: ``addr`` is a port on loopback (0: a free one) or
        ``"HOST:PORT"``. Returns the address bound (also ``served_on``). A viewer can attach,
        leave and attach again, and is sent the new world after ``reset`` or ``load``; views are
        made only while one is attached. ``close`` stops serving."""
        self.served_on = self._core.serve(str(addr))
        return self.served_on

    def stop_serving(self) -> None:
        """Stops serving views, if it was: attached viewers are let go and the port is closed."""
        self._core.stop_serving()
        self.served_on = None

    def _serve_if(self, serve: bool | int | str | None) -> None:
        """``serve=`` of ``make`` and ``parallel_env``: True for a free port, else the address."""
        if serve is not None and serve is not False:
            self.serve(0 if serve is True else serve)

    def record_actions(self, path: str | os.PathLike) -> None:
        """Records every step's actions, and every parameter or task set, from the world's start
        (call it after ``reset``) into the action log ``path``; ``beanworld replay LOG`` re-runs
        it to the same trajectory and world hashes without this script. The log is completed by
        :meth:`stop_recording`, the next ``reset``, or when the environment is collected."""
        self._core.record_actions(os.fspath(path))

    def stop_recording(self) -> None:
        """Completes the action log being recorded, if any."""
        self._core.stop_recording()


class BeanworldEnv(_OneWorld, gym.Env):
    """One beanworld world whose first agent the caller drives (the others follow their scenario's
    policies). Observations are a dict: ``vision`` ``(2R+1, 2R+1, C)`` float32 (``[right][forward]
    [channel]``, the agent facing "forward"), ``scent`` ``(S,)`` float32, ``moved`` (0 or 1),
    ``inventory`` (items held, per type) and ``task``: the reward function that will score the next
    action, as float32 coefficients — for each item type (in ``items`` order) what collecting one
    is worth, then the value of every step, then of exploring — for reward-aware learners. Actions
    are numbered as ``actions`` lists them."""

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
        # What it was made of, for a learner of its own worlds (`beanworld.learner.Learner.of`).
        self._scenario = (text, file, dict(overrides or {}))
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        if truncate is not None and (not isinstance(truncate, int) or truncate < 1):
            raise ValueError(f"truncate must be a number of steps ≥ 1, not {truncate!r}")
        self.render_mode = render_mode
        self.truncate = truncate
        self.actions = list(self._core.actions)
        self.items = list(self._core.items)
        self.action_space, self.observation_space = _single_spaces(self._core)
        self._segment = 0

    def _obs(self) -> dict[str, Any]:
        return {
            "vision": self._core.vision(),
            "scent": self._core.scent(),
            "moved": int(self._core.moved),
            "inventory": self._core.inventory(),
            "task": self._core.task(),
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

    def close(self):
        self.stop_serving()
        super().close()

    def render(self):
        if self.render_mode == "rgb_array":
            return self._core.render()
        return None

    def policy_action(self) -> int | None:
        """The action the first agent's scenario policy would take now (what ``beanworld run``
        gives it), or None if it has none among ``actions``. (It asks a copy of the world, so it
        costs a copy of the world.)"""
        return self._core.policy_action()

    def set_param(self, path: str, value: float) -> None:
        """Sets a world parameter (``"jellybean.intensity"``, ``"banana.interactions.tree.c2"``,
        ``"onion.color[1]"``) from the next step on — what a curriculum teacher turns."""
        self._core.set_param(path, float(value))

    def set_task(self, task: str) -> None:
        """Switches the reward schedule from the next step on, written in RON as a scenario's
        ``task`` (``'Fixed(Collect(item: "banana", value: 1))'``)."""
        self._core.set_task(task)

    def save(self, path: str | os.PathLike) -> None:
        """Writes a snapshot of the world — agents, items, clocks, random streams, parameters set,
        the trajectory hash — to ``path``; :meth:`load` continues from it bit for bit."""
        self._core.save(os.fspath(path))

    def load(self, path: str | os.PathLike) -> dict[str, Any]:
        """Continues from a snapshot of this scenario (and seed); returns the observation there."""
        self._core.load(os.fspath(path))
        return self._obs()

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
    serve: bool | int | str | None = None,
    **overrides: Any,
) -> BeanworldEnv:
    """A Gymnasium environment over ``scenario`` (see the module's documentation); with
    ``serve=PORT`` (or ``True`` for a free port, or ``"HOST:PORT"``) its world is served to
    ``beanworld watch --attach`` (:meth:`BeanworldEnv.serve`)."""
    text, file = _scenario_text(scenario)
    if seed is not None:
        overrides = {"seed": seed, **overrides}
    env = BeanworldEnv(text, file, overrides, render_mode=render_mode, truncate=truncate)
    env._serve_if(serve)
    return env


class BeanworldVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` worlds of one single-agent scenario stepped as one batch by the Rust engine
    across ``threads`` threads, with the GIL released while they step. Observations are written in
    place into arrays allocated once; with ``copy=False`` every step returns those same arrays
    (no allocation; they change at the next step), with ``copy=True`` (the default) copies.

    The worlds never end. ``truncate=N`` sets ``truncated`` every ``N`` steps without restarting
    the world: the next observation simply continues the stream. So the autoreset mode is
    ``SAME_STEP``, trivially — there is never a reset to fold into a step."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self,
        text: str,
        file: str,
        num_envs: int,
        *,
        seed: int = 0,
        threads: int | None = None,
        truncate: int | None = None,
        copy: bool = True,
        overrides: dict[str, Any] | None = None,
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer ≥ 1, not {num_envs!r}")
        if truncate is not None and (not isinstance(truncate, int) or truncate < 1):
            raise ValueError(f"truncate must be a number of steps ≥ 1, not {truncate!r}")
        pairs = [(str(k), _ron(v)) for k, v in (overrides or {}).items()]
        threads = threads or os.cpu_count() or 1
        self._seed = int(seed)
        self._worlds = _Worlds(text, file, [self._seed + i for i in range(num_envs)], threads, pairs, truncate)
        self._scenario = (text, file, dict(overrides or {}))
        worlds = self._worlds
        self.num_envs = num_envs
        self.actions = list(worlds.actions)
        self.single_action_space, self.single_observation_space = _single_spaces(worlds)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.copy = copy
        n, shape = num_envs, worlds.vision_shape
        self._vision = np.zeros((n, *shape), dtype=np.float32)
        self._scent = np.zeros((n, worlds.scent_len), dtype=np.float32)
        self._moved = np.zeros(n, dtype=np.int64)
        self._inventory = np.zeros((n, len(worlds.items)), dtype=np.int64)
        self._task = np.zeros((n, worlds.task_len), dtype=np.float32)
        self._rewards = np.zeros(n, dtype=np.float32)
        self._truncated = np.zeros(n, dtype=bool)
        self._terminated = np.zeros(n, dtype=bool)
        self._buffers = (
            self._vision,
            self._scent,
            self._moved,
            self._inventory,
            self._task,
            self._rewards,
            self._truncated,
        )

    def _obs(self):
        obs = {
            "vision": self._vision,
            "scent": self._scent,
            "moved": self._moved,
            "inventory": self._inventory,
            "task": self._task,
        }
        return {k: v.copy() for k, v in obs.items()} if self.copy else obs

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            seeds = [self._seed + i for i in range(self.num_envs)]
        elif isinstance(seed, (int, np.integer)):
            self._seed = int(seed)
            seeds = [self._seed + i for i in range(self.num_envs)]
        else:
            seeds = [int(s) for s in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"expected {self.num_envs} seeds, one per world, found {len(seeds)}")
        # Gymnasium's own random stream (which takes one integer) from the first world's seed.
        super().reset(seed=None if seed is None else seeds[0])
        for i, s in enumerate(seeds):
            self._worlds.reset(i, s)
        self._worlds.observe(*self._buffers)
        self._rewards[:] = 0
        self._truncated[:] = False
        return self._obs(), {}

    def set_param(self, path: str, value: float) -> None:
        """Sets a world parameter in every world from the next step on (a world reset later starts
        from the scenario's own value again)."""
        self._worlds.set_param(path, float(value))

    def set_task(self, task: str) -> None:
        """Switches every world's reward schedule from the next step on (RON, as a scenario's
        ``task``)."""
        self._worlds.set_task(task)

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"expected {self.num_envs} integer actions, one per world; got an array of shape "
                f"{actions.shape} and dtype {actions.dtype}"
            )
        self._worlds.step(np.ascontiguousarray(actions, dtype=np.int64), *self._buffers)
        rewards = self._rewards.copy() if self.copy else self._rewards
        truncated = self._truncated.copy() if self.copy else self._truncated
        return self._obs(), rewards, self._terminated, truncated, {}


def make_vec(
    scenario: str | os.PathLike = "jbw-v0",
    num_envs: int = 8,
    *,
    seed: int = 0,
    threads: int | None = None,
    truncate: int | None = None,
    copy: bool = True,
    **overrides: Any,
) -> BeanworldVectorEnv:
    """``num_envs`` worlds of ``scenario`` (seeds ``seed``, ``seed + 1``, …) as one Gymnasium vector
    environment stepped by the Rust engine on ``threads`` threads (default: every core)."""
    text, file = _scenario_text(scenario)
    return BeanworldVectorEnv(
        text, file, num_envs, seed=seed, threads=threads, truncate=truncate, copy=copy, overrides=overrides
    )


class BeanworldParallelEnv(_OneWorld):
    """Every agent of a multi-agent scenario driven from Python, as a PettingZoo ``ParallelEnv``
    (``pettingzoo`` must be installed). Agents are named ``agent_<id>`` by their engine ids, in
    id order; conflicts over items go as the scenario's collision policy says (first come, first
    served by id). The world never ends; ``truncate=N`` truncates every agent every ``N`` steps,
    after which the agents are gone until ``reset``, as PettingZoo expects."""

    metadata = {"name": "beanworld_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(self, text, file, overrides=None, render_mode=None, truncate=None, perception_threads=1):
        pairs = [(str(k), _ron(v)) for k, v in (overrides or {}).items()]
        self._core = _Core(text, file, pairs)
        if not isinstance(perception_threads, int) or perception_threads < 1:
            raise ValueError(f"perception_threads must be an integer ≥ 1, not {perception_threads!r}")
        self._core.set_perception_threads(perception_threads)
        if self._core.changes_agents():
            raise ValueError(
                f"scenario {self._core.name!r} adds or removes agents while it runs; the parallel "
                "environment needs a fixed set of agents"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        if truncate is not None and (not isinstance(truncate, int) or truncate < 1):
            raise ValueError(f"truncate must be a number of steps ≥ 1, not {truncate!r}")
        self.render_mode = render_mode
        self.truncate = truncate
        self.actions = list(self._core.actions)
        self.possible_agents = [f"agent_{i}" for i in self._core.agent_ids()]
        self.agents = list(self.possible_agents)
        self._index = {name: k for k, name in enumerate(self.possible_agents)}
        self._action_space, self._observation_space = _single_spaces(self._core)
        self._segment = 0

    def observation_space(self, agent):
        return self._observation_space

    def action_space(self, agent):
        return self._action_space

    def _obs(self, k):
        c = self._core
        return {
            "vision": c.vision(k),
            "scent": c.scent(k),
            "moved": int(c.moved_of(k)),
            "inventory": c.inventory(k),
            "task": c.task(),
        }

    def reset(self, seed=None, options=None):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be an integer ≥ 0, not {seed!r}")
        self._core.reset(None if seed is None else int(seed))
        self.agents = list(self.possible_agents)
        self._segment = 0
        observations = {a: self._obs(k) for k, a in enumerate(self.agents)}
        return observations, {a: {} for a in self.agents}

    def next_segment(self):
        """After a truncation, brings the agents back for the next segment: the world goes on
        where it stopped (``reset`` starts it anew). Returns the observations."""
        self.agents = list(self.possible_agents)
        self._segment = 0
        return {a: self._obs(k) for k, a in enumerate(self.agents)}

    def step(self, actions):
        if not self.agents:
            raise ValueError("every agent is truncated: call reset()")
        missing = [a for a in self.agents if a not in actions]
        unknown = [a for a in actions if a not in self._index]
        if missing or unknown:
            raise ValueError(f"expected an action for each of {self.agents}; missing {missing}, unknown {unknown}")
        chosen = np.zeros(len(self.possible_agents), dtype=np.int64)
        for name, action in actions.items():
            if isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer):
                action = int(action)
            if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
                raise TypeError(f"{name}: an action is one integer (0 … {len(self.actions) - 1}), not {action!r}")
            chosen[self._index[name]] = int(action)
        rewards = self._core.step_all(chosen)
        self._segment += 1
        truncated = self.truncate is not None and self._segment >= self.truncate
        names = list(self.agents)
        observations = {a: self._obs(self._index[a]) for a in names}
        info = {"step": self._core.time, "trajectory_hash": self._core.trajectory_hash}
        result = (
            observations,
            {a: float(rewards[self._index[a]]) for a in names},
            {a: False for a in names},
            {a: truncated for a in names},
            {a: dict(info) for a in names},
        )
        if truncated:
            self.agents = []
        return result

    def render(self):
        if self.render_mode == "rgb_array":
            return self._core.render()
        return None

    def set_param(self, path: str, value: float) -> None:
        """Sets a world parameter from the next step on."""
        self._core.set_param(path, float(value))

    def set_task(self, task: str) -> None:
        """Switches the reward schedule from the next step on (RON, as a scenario's ``task``)."""
        self._core.set_task(task)

    def save(self, path: str | os.PathLike) -> None:
        """Writes a snapshot of the world to ``path``."""
        self._core.save(os.fspath(path))

    def load(self, path: str | os.PathLike):
        """Continues from a snapshot of this scenario (and seed); returns the observations there."""
        self._core.load(os.fspath(path))
        self.agents = list(self.possible_agents)
        self._segment = 0
        return {a: self._obs(k) for k, a in enumerate(self.agents)}

    def close(self):
        self.stop_serving()

    def state(self):
        raise NotImplementedError("beanworld has no global state observation")

    @property
    def trajectory_hash(self) -> str:
        return self._core.trajectory_hash


def parallel_env(
    scenario: str | os.PathLike = "crowd",
    *,
    seed: int | None = None,
    render_mode: str | None = None,
    truncate: int | None = None,
    serve: bool | int | str | None = None,
    perception_threads: int = 1,
    **overrides: Any,
):
    """A PettingZoo ``ParallelEnv`` driving every agent of ``scenario`` (see
    :class:`BeanworldParallelEnv`); ``serve`` as in :func:`make`. With many agents,
    ``perception_threads`` takes their observations on that many threads (the same observations
    whatever the number)."""
    try:
        from pettingzoo import ParallelEnv  # type: ignore[import-untyped]
    except ImportError as e:  # pragma: no cover - a clear message beats a bare ImportError
        raise ImportError("beanworld.parallel_env needs PettingZoo: pip install pettingzoo") from e
    text, file = _scenario_text(scenario)
    if seed is not None:
        overrides = {"seed": seed, **overrides}
    cls = type("BeanworldParallelEnv", (BeanworldParallelEnv, ParallelEnv), {})
    env = cls(text, file, overrides, render_mode=render_mode, truncate=truncate, perception_threads=perception_threads)
    env._serve_if(serve)
    return env


#: Gymnasium ids of the shipped scenarios that are not named after their file: JBW's own
#: configurations.
_GYM_NAMES = {"jbw-v0": "JBW-v0", "jbw-v1": "JBW-v1", "jbw-paper": "JBW-paper"}


def gym_ids() -> dict[str, str]:
    """The Gymnasium id of each shipped scenario, by scenario name: ``beanworld/JBW-v0``,
    ``beanworld/JBW-v1`` and ``beanworld/JBW-paper`` for JBW's configurations (as JBW names
    them: v0 and v1 are two worlds, not two versions of one, though Gymnasium's ``make`` warns
    that ``JBW-v0`` is out of date), and ``beanworld/NAME`` for the others, a ``/`` in the name
    written ``.`` (``beanworld/experiments.paper-vision``)."""
    return {name: "beanworld/" + _GYM_NAMES.get(name, name.replace("/", ".")) for name in scenarios()}


def _register() -> None:
    """Registers every shipped scenario with Gymnasium (:func:`gym_ids`): ``make`` is its entry
    point and ``make_vec`` its vector entry point, so keyword arguments of ``gymnasium.make``
    and ``gymnasium.make_vec`` go to those."""
    for name, env_id in gym_ids().items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="beanworld:make",
                vector_entry_point="beanworld:make_vec",
                kwargs={"scenario": name},
            )


_register()
