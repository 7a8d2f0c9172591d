"""Train our PPO learner across Ray actors, and the same learner on this machine alone, and
compare their learning curves.

Each actor owns `--worlds` worlds and a replica of the learner (`beanworld.ray`); the driver
averages the replicas' gradients every minibatch, so the two runs learn from the same worlds
(seeds 0 … actors·worlds − 1) in rollouts of the same length. The Ray run writes its run
directory (metrics.csv, learner.jsonl, summary.json, learner.safetensors) into `--out`.

    python agents/python/examples/ray_ppo.py --actors 2 --worlds 4 --steps 20000 --out runs/ray-ppo

On a Ray cluster, start it on the head node with `--address auto`; every node needs `beanworld`
installed.
"""

from __future__ import annotations

import argparse
import logging
import time

import ray

from beanworld.learner import Learner
from beanworld.ray import DataParallel


def curve(rewards: list[float], streams: int, rollout: int, points: int = 5) -> list[float]:
    """Reward per stream and step over `points` equal stretches of the run."""
    size = max(1, len(rewards) // points)
    return [sum(rewards[i : i + size]) / (len(rewards[i : i + size]) * streams * rollout) for i in range(0, size * points, size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="jbw-v0")
    parser.add_argument("--learner", default="ppo-scent(rollout: 128)")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--worlds", type=int, default=4, help="worlds per actor")
    parser.add_argument("--steps", type=int, default=20_000, help="steps of every world")
    parser.add_argument("--out", default="runs/ray-ppo")
    parser.add_argument("--address", default=None)
    args = parser.parse_args()

    if args.address:
        ray.init(address=args.address, logging_level=logging.ERROR)
    else:
        ray.init(num_cpus=args.actors, include_dashboard=False, logging_level=logging.ERROR)
    trainer = DataParallel(args.scenario, args.learner, actors=args.actors, worlds=args.worlds)
    started = time.perf_counter()
    summary = trainer.train(args.steps, args.out)
    ray.shutdown()
    with open(f"{args.out}/metrics.csv", encoding="utf-8") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    on_ray = curve([float(r[2]) for r in rows], summary["streams"], trainer.rollout)
    print(f"Ray, {args.actors} actors: {summary['env_steps_per_sec']:.0f} env-steps/s in {time.perf_counter() - started:.1f} s")

    local = Learner(args.learner, args.scenario, seeds=list(range(args.actors * args.worlds)), threads=args.actors)
    started = time.perf_counter()
    rewards = []
    while local.steps < summary["steps"]:
        rewards.append(local.collect(trainer.rollout))
        local.update()
    seconds = time.perf_counter() - started
    alone = curve(rewards, local.streams, trainer.rollout)
    print(f"one learner alone: {local.steps * local.worlds / seconds:.0f} env-steps/s in {seconds:.1f} s")
    print("reward per stream and step, over five stretches of the run:")
    print("  Ray:   " + "  ".join(f"{r:.4f}" for r in on_ray))
    print("  alone: " + "  ".join(f"{r:.4f}" for r in alone))


if __name__ == "__main__":
    main()
