"""The never-ending-learning suite with a learner written in Python.

``beanworld suite run`` lives our learners on the suite's tracks; ``run`` here lives yours,
through the same code: the same lives (one unbroken stream per seed), the same frozen
evaluations in held-out worlds, the same forward transfer, the same ``result.json``, so that
``report`` (``beanworld suite report``) puts your learner and ours side by side::

    import beanworld.suite

    class Learner:
        def __init__(self, seed, agent_id, actions): ...   # actions: their names, by index
        def act(self, observation) -> int: ...             # the Gymnasium env's observation,
                                                           # plus "reward", "step" and "id"
        def learn(self, previous, observation): ...        # previous: the action taken;
                                                           # observation["reward"]: what it got
        def save(self) -> bytes: ...                       # everything it is
        def load(self, state: bytes): ...                  # becomes what save() returned
        def freeze(self) -> bool: ...                      # optional: stop learning for good

    beanworld.suite.run(["scenarios/suite/paper.ron"], Learner, name="my-learner", seeds=3,
                        out="suite-out")
    beanworld.suite.report("suite-out")                    # suite-out/report.md and plots

The learner is made once per agent with the world's seed and the agent's id, and must depend on
nothing else for the run to repeat byte for byte. A frozen copy for an evaluation is made anew
and given ``load(save())`` of the learner, then ``freeze()``; without ``freeze`` (or when it
returns False) the copy is never told what its actions led to. ``save`` and ``load`` also carry
the learner across a resumed run: a killed ``run`` called again goes on from each life's last
evaluation. Ctrl-C stops every life with a snapshot kept, then raises ``KeyboardInterrupt``.

Tracks are named as by ``beanworld suite run``: a track file's path, or a shipped track's name
when the current folder is the repository's root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from ._core import suite_report as _report
from ._core import suite_run as _run

__all__ = ["report", "run"]

PathLike = Union[str, "os.PathLike[str]"]


def run(
    tracks: Iterable[PathLike],
    make: Callable[[int, int, list], Any],
    *,
    name: str,
    out: PathLike = "suite-out",
    seeds: int = 5,
    jobs: int = 1,
    smoke: bool = False,
) -> int:
    """Lives the learner ``make(seed, agent_id, actions)`` makes on each track, for seeds
    ``0 … seeds-1``, into ``out/TRACK/NAME/seed-N`` (``smoke-seed-N`` with ``smoke``); returns the
    number of lives. ``name`` is the learner's name in results and reports (a word, not one of
    our agents' names). Lives already finished in ``out`` are not lived again."""
    paths = [os.fspath(t) for t in tracks]
    if not paths:
        raise ValueError("name at least one track")
    if seeds < 1 or jobs < 1:
        raise ValueError(f"seeds and jobs must be at least 1, not {seeds} and {jobs}")
    return _run(paths, name, make, os.fspath(out), seeds=seeds, jobs=jobs, smoke=smoke)


def report(*dirs: PathLike, out: PathLike | None = None) -> Path:
    """Writes ``report.md`` and a plot per track of every life below ``dirs`` (into ``out``, by
    default the first folder); returns the report's path."""
    if not dirs:
        raise ValueError("name at least one folder of lives")
    return Path(_report([os.fspath(d) for d in dirs], None if out is None else os.fspath(out)))
