"""Our Rust learners, driven from Python.

:class:`Learner` is a PPO learner (``ppo``, ``ppo-vision`` or ``ppo-scent``, with its settings in
RON after the name, as ``beanworld run --agent`` takes them) over one world of a scenario per
seed, every agent of every world one of its streams, acting for all of them in one batched
forward pass. The Rust code runs with the GIL released.

Training as ``beanworld run --worlds N`` does is collecting a rollout and updating, again and
again::

    from beanworld.learner import Learner
    learner = Learner("ppo-scent(rollout: 64)", "jbw-v0", seeds=[0, 1, 2, 3])
    for _ in range(10):
        learner.collect(64)
        stats = learner.update()

The same update can be taken apart, as the replicas of a data-parallel learner do
(:mod:`beanworld.ray`): ``gradients()`` hands out the next minibatch's gradients as numpy arrays
by weight name, ``apply(gradients)`` takes an Adam step with gradients from anywhere (averaged
over replicas, say), and ``get_weights()`` / ``set_weights()`` move the weights. An update taken
apart on one learner — ``while (g := learner.gradients()) is not None: learner.apply(g)`` — is
``update()``, bit for bit.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _ron, _scenario_text
from ._core import Learner as _Learner

__all__ = ["Learner"]

Arrays = dict[str, npt.NDArray[np.float32]]


class Learner:
    """A Rust PPO learner named ``name`` over one world of ``scenario`` (a shipped name, a path or
    RON text) per seed in ``seeds``, stepped on ``threads`` threads; ``overrides`` replace
    top-level scenario fields as in :func:`beanworld.make`; with ``file``, ``scenario`` is the
    scenario's text and ``file`` names it in errors. Its weights and sampling come from a stream
    keyed by the first seed. A scenario with a teacher is refused: a learner over many worlds runs
    none."""

    def __init__(
        self,
        name: str = "ppo",
        scenario: str | os.PathLike[str] = "jbw-v0",
        *,
        seeds: list[int] | tuple[int, ...] = (0,),
        threads: int = 1,
        overrides: dict[str, Any] | None = None,
        file: str | None = None,
    ):
        # With `file`, `scenario` is the text of a scenario and `file` names it in errors.
        text, file = (str(scenario), file) if file is not None else _scenario_text(scenario)
        pairs = [(str(k), _ron(v)) for k, v in (overrides or {}).items()]
        seeds = [int(s) for s in seeds]
        self._core = _Learner(name, text, file, seeds, int(threads), pairs)
        self.scenario = scenario
        self.seeds = seeds

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        name: str = "ppo",
        scenario: str | os.PathLike[str] = "jbw-v0",
        *,
        threads: int = 1,
        overrides: dict[str, Any] | None = None,
        file: str | None = None,
    ) -> Learner:
        """The learner ``name`` over the worlds of ``scenario`` saved in the folder ``path`` — by
        :meth:`snapshot`, or a ``beanworld run --worlds N --snapshot-every K`` snapshot
        (``OUT/snapshots/STEP``) — as they stood: collecting and updating go on as if it had
        never stopped. Refused, with the reason, if the snapshot is of another scenario or
        learner, or damaged."""
        text, file = (str(scenario), file) if file is not None else _scenario_text(scenario)
        pairs = [(str(k), _ron(v)) for k, v in (overrides or {}).items()]
        self = cls.__new__(cls)
        self._core = _Learner.resume(name, text, file, os.fspath(path), int(threads), pairs)
        self.scenario = scenario
        self.seeds = list(self._core.seeds)
        return self

    def snapshot(self, path: str | os.PathLike[str]) -> None:
        """Writes every world and the learner, with its rollouts in progress, into the folder
        ``path`` (made if it is not there), for :meth:`resume`. Refused while an update taken
        apart by :meth:`gradients` is under way."""
        self._core.snapshot(os.fspath(path))

    @classmethod
    def of(cls, env: Any, name: str = "ppo", *, threads: int = 1) -> Learner:
        """A learner ``name`` over worlds of ``env``'s scenario (with its overrides) and seeds: a
        :func:`beanworld.make` environment's one world, or one per world of a
        :func:`beanworld.make_vec` vector environment. The learner steps worlds of its own, the
        same worlds as the environment's from their start; ``env`` itself is left as it is."""
        inner = getattr(env, "unwrapped", env)
        made = getattr(inner, "_scenario", None)
        if made is None:
            raise TypeError(f"a learner is made of a beanworld environment (make or make_vec), not {type(env).__name__}")
        text, file, overrides = made
        if hasattr(inner, "_worlds"):
            seeds = [inner._seed + i for i in range(inner.num_envs)]
        else:
            seeds = [inner._core.seed]
        return cls(name, text, file=file, seeds=seeds, threads=threads, overrides=overrides)

    def collect(self, steps: int) -> float:
        """Steps every stream ``steps`` times, acting and recording, without learning; the reward
        of all streams over them."""
        return self._core.collect(int(steps))

    def update(self) -> dict[str, Any] | None:
        """One update over what was collected since the last: what it did (losses, entropy, KL,
        clip fraction, gradient norm, …, as ``learner.jsonl`` has it); ``None`` if nothing was."""
        line = self._core.update()
        return None if line is None else json.loads(line)

    def gradients(self) -> Arrays | None:
        """The gradients of the next minibatch of the update under way (begun over what was
        collected if none is), at the current weights; ``None`` once its passes are done — the
        update is then finished, and :meth:`last_update` says what it did — or if nothing was
        collected."""
        return self._core.gradients()

    def apply(self, gradients: Arrays) -> None:
        """One Adam step with ``gradients`` (one float32 array per weight, by name)."""
        self._core.apply({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in gradients.items()})

    def end_update(self, steps: int) -> None:
        """Counts an update whose gradients were applied here with :meth:`apply` — by the driver
        of a data-parallel learner — over ``steps`` steps its replicas' streams took (which its
        checkpoints count as trained)."""
        self._core.end_update(int(steps))

    def last_update(self) -> dict[str, Any] | None:
        """What the last update did, if one was finished since the last call."""
        line = self._core.last_update()
        return None if line is None else json.loads(line)

    def get_weights(self) -> Arrays:
        """Every weight, float32 arrays by name (a linear layer's weight is ``[inputs, outputs]``)."""
        return self._core.get_weights()

    def set_weights(self, weights: Arrays, *, initial: bool = False) -> None:
        """Replaces the weights, keeping Adam's moments; with ``initial`` they also become the
        weights it started from (which L2-init pulls toward). Weights of another network are
        refused, naming every array that differs."""
        self._core.set_weights({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}, initial)

    def weights_hash(self) -> str:
        """XXH3-128 of the weights, as ``summary.json``'s ``weights_hash``."""
        return self._core.weights_hash()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes a portable checkpoint (safetensors; see :mod:`beanworld.checkpoint`)."""
        self._core.save(os.fspath(path))

    def load(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Starts from a checkpoint: its weights, and its whole state if it was saved by this
        learner with these settings (its rollouts too, with as many streams)."""
        state, rollouts, steps = self._core.load(os.fspath(path))
        return {"state": state, "rollouts": rollouts, "steps": steps}

    @property
    def steps(self) -> int:
        """Steps taken, each a step of every stream."""
        return self._core.steps

    @property
    def streams(self) -> int:
        """Agents over all worlds."""
        return self._core.streams

    @property
    def worlds(self) -> int:
        return self._core.worlds

    @property
    def updates(self) -> int:
        return self._core.updates

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting (``rollout``, ``minibatch``, ``redo``, …), defaults included."""
        return json.loads(self._core.settings)

    def timing(self) -> dict[str, float]:
        """Seconds spent stepping the worlds, acting, and updating."""
        env, act, update = self._core.timing()
        return {"env": env, "act": act, "update": update}
