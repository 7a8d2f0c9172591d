"""Learner checkpoints as numpy arrays.

``beanworld run SCENARIO --agent ppo --worlds N`` writes ``learner.safetensors``, a safetensors
file: each weight of the network is a float32 array named by its path in it (``policy.weight``,
``s1.bias``; a linear layer's weight is ``[inputs, outputs]``), ``beanworld.state`` holds the rest
of the learner (Adam's moments, its random stream, the rollouts in progress) in the learner's own
format, and the metadata entry ``beanworld`` says what the learner is (a JSON object: ``format``,
``learner``, ``settings``, ``shape``, ``streams``, ``steps``, ``updates``)::

    import beanworld.checkpoint as ck
    c = ck.load("out/learner.safetensors")
    c.weights["policy.weight"] *= 0.5
    ck.save("halved.safetensors", c)   # run ... --load-learner halved.safetensors

Loading a checkpoint with its state continues the learner exactly, the weights given winning;
``c.state = None`` before saving starts Adam afresh from the weights. A network of another shape
is refused by ``--load-learner``, naming each array that differs.

Needs the ``safetensors`` package (``pip install beanworld[checkpoint]``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

__all__ = ["Checkpoint", "load", "save"]

_KEY = "beanworld"
_STATE = "beanworld.state"


@dataclass
class Checkpoint:
    """A learner checkpoint: its weights by name, what it says about itself, and its state."""

    weights: dict[str, np.ndarray]
    about: dict[str, Any]
    state: Optional[np.ndarray] = None


def load(path: str | os.PathLike) -> Checkpoint:
    """Reads the checkpoint at ``path``; ``ValueError`` if it is not one."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(os.fspath(path), framework="np") as f:
        metadata = f.metadata() or {}
    if _KEY not in metadata:
        raise ValueError(f"{path}: not a learner checkpoint (its metadata has no {_KEY!r} entry)")
    weights = load_file(os.fspath(path))
    state = weights.pop(_STATE, None)
    return Checkpoint(weights=weights, about=json.loads(metadata[_KEY]), state=state)


def save(path: str | os.PathLike, checkpoint: Checkpoint) -> None:
    """Writes ``checkpoint`` to ``path`` (weights as float32), for ``--load-learner``."""
    from safetensors.numpy import save_file

    tensors = {name: np.ascontiguousarray(w, dtype=np.float32) for name, w in checkpoint.weights.items()}
    if _STATE in tensors:
        raise ValueError(f"{_STATE!r} is the learner's state, not a weight")
    if checkpoint.state is not None:
        tensors[_STATE] = np.ascontiguousarray(checkpoint.state, dtype=np.uint8)
    save_file(tensors, os.fspath(path), metadata={_KEY: json.dumps(checkpoint.about)})
