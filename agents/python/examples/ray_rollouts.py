"""Roll out many beanworld worlds across Ray workers: the path for experiments that outgrow one
machine. Each worker (a Ray actor) owns a vector environment of `--envs` worlds, stepped by the
Rust engine on the worker's own cores; the driver sends them a policy's parameters, collects their
statistics, and could update the policy in between (here: the random policy and a fixed
"forward when a jelly bean is ahead" rule, compared).

On one machine, Ray starts a local instance:

    pip install "ray==2.*"
    python agents/python/examples/ray_rollouts.py --workers 2 --envs 16 --steps 2000

On a Ray cluster, start the script on the head node (or submit it with `ray job submit`): it
connects to the running cluster with `--address auto`, and every worker needs `beanworld`
installed (`pip install ./agents/python` on each node, or a `runtime_env` that installs it).
"""

import argparse
import time

import numpy as np
import ray

import beanworld


@ray.remote
class Worker:
    def __init__(self, scenario: str, envs: int, seed: int, threads: int):
        self.env = beanworld.make_vec(scenario, envs, seed=seed, threads=threads, copy=False)
        self.obs, _ = self.env.reset()
        side = self.obs["vision"].shape[1]  # [world][right][forward][channel]
        self.ahead = (side // 2, side // 2 + 1)  # the cell in front: [right][forward]
        self.rng = np.random.default_rng(seed)

    def rollout(self, policy: str, steps: int) -> dict:
        n = self.env.num_envs
        total = np.zeros(n)
        started = time.perf_counter()
        for _ in range(steps):
            if policy == "random":
                actions = self.rng.integers(0, 3, size=n)
            else:
                # Forward onto a jelly bean (blue in jbw-v0), otherwise explore at random.
                bean = np.isclose(self.obs["vision"][:, self.ahead[0], self.ahead[1], 2], 1.0)
                actions = np.where(bean, 0, self.rng.choice(3, size=n, p=[0.8, 0.1, 0.1]))
            self.obs, rewards, _, _, _ = self.env.step(actions.astype(np.int64))
            total += rewards
        seconds = time.perf_counter() - started
        return {"rate": float(total.mean() / steps), "agent_steps_per_sec": n * steps / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=None, help="a Ray cluster to join (auto: the running one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16, help="worlds per worker")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="engine threads per worker")
    parser.add_argument("--scenario", default="jbw-v0")
    args = parser.parse_args()
    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    workers = [
        Worker.options(num_cpus=args.threads).remote(args.scenario, args.envs, 1000 * i, args.threads)
        for i in range(args.workers)
    ]
    for policy in ["random", "bean ahead"]:
        results = ray.get([w.rollout.remote(policy, args.steps) for w in workers])
        rate = np.mean([r["rate"] for r in results])
        speed = sum(r["agent_steps_per_sec"] for r in results)
        worlds = args.workers * args.envs
        print(f"{policy:>10}: {rate:.4f} jelly beans per step over {worlds} worlds, {speed:,.0f} agent-steps/s")
    ray.shutdown()


if __name__ == "__main__":
    main()
