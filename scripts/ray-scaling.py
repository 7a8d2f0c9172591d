"""Throughput of our PPO learner across Ray actors on this machine: env-steps per second with 1
and 2 actors (each with the same number of worlds, so 2 actors take twice the steps), the
seconds per synchronous round (one minibatch's gradients from every actor, averaged, applied,
and the weights sent back), the round's overhead (the same round for a network too small to cost
anything), and the size of the gradients a round moves. Medians of `--repeats` runs.

    ~/.cache/beanworld/venv/bin/python scripts/ray-scaling.py --repeats 3

It prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time

import ray

from beanworld.learner import Learner
from beanworld.ray import DataParallel

CASES = [
    # (scenario, learner, worlds per actor, steps of every world)
    ("jbw-v0", "ppo-scent(rollout: 128)", 8, 4096),
    ("experiments/paper-vision-scent", "ppo(rollout: 128)", 8, 1024),
]
#: A network too small to cost anything: what is left of a round is its overhead.
TINY = ("jbw-v0", "ppo-scent(hidden: 2, rollout: 128, minibatch: 1024)", 8, 4096)


def measure(scenario: str, learner: str, worlds: int, steps: int, actors: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        dp = DataParallel(scenario, learner, actors=actors, worlds=worlds)
        summary = dp.train(steps, out)
    return summary


def gradient_bytes(scenario: str, learner: str) -> int:
    l = Learner(learner, scenario)
    return sum(w.nbytes for w in l.get_weights().values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    print("| scenario | learner | worlds per actor | 1 actor env-steps/s | 2 actors env-steps/s | 2 ÷ 1 | s per round (1; 2 actors) | gradient bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, learner, worlds, steps in CASES + [TINY]:
        speed: dict[int, list[float]] = {1: [], 2: []}
        rounds: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for actors in (1, 2):
                s = measure(scenario, learner, worlds, steps, actors)
                speed[actors].append(s["env_steps_per_sec"])
                rounds[actors].append(s["seconds_per_round"])
        one, two = statistics.median(speed[1]), statistics.median(speed[2])
        r1, r2 = statistics.median(rounds[1]), statistics.median(rounds[2])
        print(
            f"| {scenario} | `{learner}` | {worlds} | {one:.0f} | {two:.0f} | {two / one:.2f} | "
            f"{r1 * 1000:.1f} ms; {r2 * 1000:.1f} ms | {gradient_bytes(scenario, learner):,} |",
            flush=True,
        )
    ray.shutdown()


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n({time.perf_counter() - started:.0f} s)")
