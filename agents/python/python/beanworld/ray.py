"""Our PPO learner across the machines of a Ray cluster.

Synchronous data-parallel PPO: each of ``actors`` Ray actors (a :class:`Replica`) owns
``worlds`` worlds and a replica of the learner (:class:`beanworld.learner.Learner`). Every
update, each replica collects ``rollout`` steps of its worlds with the current weights and
begins an update over them; then, minibatch by minibatch, every replica computes the gradients
of its own next minibatch at the current weights, the driver averages them in actor order and
takes the Adam step, and the new weights go out through Ray's object store. The replicas' worlds
are seeds ``seed, seed+1, …`` in actor order, as ``beanworld run --worlds`` numbers them, so
the result depends on the seed, the learner, ``actors`` and ``worlds`` only: the same on one
node or on several.

``asynchronous=True`` trades that for throughput: each replica collects and takes a whole PPO
update of its own (its own Adam) from the weights it last received, and sends the change in
weights; the driver adds each change as it arrives and sends that replica the newest weights, so
no replica waits for another. A change may be a few updates old (asynchronous in the A3C way),
and the result depends on timing.

A replica that dies is restarted by Ray (``max_restarts``) with fresh worlds of its seeds and
the first weights, takes the current weights with its next call, and the run goes on: in the synchronous mode
it collects again at once if it died while collecting, and otherwise sits out the rest of the
update. Every restart is logged in ``ray.log`` with the update it happened in; a step counts
once, when the replica that took it returns it.

From the command line (the run directory holds what ``beanworld run --worlds`` writes there but
its picture, which ``beanworld plot DIR`` draws)::

    python -m beanworld.ray --scenario jbw-v0 --learner "ppo-scent(rollout: 128)" \\
        --actors 2 --worlds 4 --steps 20000 --out runs/ray

``--address auto`` (or ``HOST:PORT``) joins a running cluster instead of starting one on this
machine; every node needs ``beanworld`` installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from . import _scenario_text, set_generation_threads
from .learner import Arrays, Learner

__all__ = ["DataParallel", "Replica", "main"]

#: Longest window of ``final_reward_rate``, in steps, as a local run has it.
FINAL_WINDOW = 1_000_000


class _Replica:
    """One replica of the learner and its worlds, in a Ray actor. A restarted actor is made again
    with the same arguments: fresh worlds of its seeds, and the driver's first weights."""

    # The first weights are made here, as the driver makes them (a learner keyed by the run's
    # first seed), rather than sent: an actor made from arguments in Ray's object store could not
    # be made again once they were lost.

    def __init__(
        self,
        name: str,
        text: str,
        file: str,
        seeds: list[int],
        threads: int,
        overrides: dict[str, Any],
        first_seed: int,
    ):
        # Its worlds sample new patches on the threads that step them, no more, so that actors
        # side by side do not crowd each other's cores (only the speed depends on it).
        set_generation_threads(threads)
        self.learner = Learner(name, text, file=file, seeds=seeds, threads=threads, overrides=overrides)
        initial = Learner(name, text, file=file, seeds=[first_seed], overrides=overrides).get_weights()
        self.learner.set_weights(initial, initial=True)
        # Which life of the actor this is: a restarted actor has another.
        self.life = f"{os.getpid()}-{time.time_ns()}"

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        """The id of the Ray node it runs on."""
        return ray.get_runtime_context().get_node_id()

    def who(self) -> str:
        return self.life

    def collect(self, steps: int, weights: Arrays) -> tuple[float, str]:
        """Takes ``weights``, then collects ``steps`` steps: their reward, and which life of the
        actor collected them."""
        self.learner.set_weights(weights)
        return self.learner.collect(steps), self.life

    def gradients(self, weights: Arrays) -> tuple[Arrays | None, str]:
        """The gradients of the next minibatch at ``weights`` (``None`` once the update is done),
        and which life of the actor took them."""
        self.learner.set_weights(weights)
        return self.learner.gradients(), self.life

    def local_update(self, steps: int, weights: Arrays) -> tuple[float, str, Arrays, dict[str, Any] | None]:
        """Collects ``steps`` steps at ``weights``, takes a PPO update over them with its own Adam,
        and returns their reward, which life of the actor took them, the change in weights, and
        what the update measured."""
        reward, life = self.collect(steps, weights)
        stats = self.learner.update()
        after = self.learner.get_weights()
        change = {k: after[k] - np.asarray(weights[k], dtype=np.float32) for k in after}
        return reward, life, change, stats

    def last_update(self) -> dict[str, Any] | None:
        return self.learner.last_update()


#: The longest a replica may take to be made again before its death stops the run.
RESTART_SECONDS = 120.0

#: The Ray actor class of a replica: restarted when its process dies, its calls not retried (the
#: driver decides what a restarted replica does).
Replica = ray.remote(max_restarts=-1, max_task_retries=0)(_Replica)


def _mean(grads: list[Arrays]) -> Arrays:
    """The mean of ``grads``, summed in the order given (so the same for the same inputs)."""
    out = {k: np.array(v, dtype=np.float32, copy=True) for k, v in grads[0].items()}
    for g in grads[1:]:
        for k, v in out.items():
            v += g[k]
    scale = np.float32(1.0 / len(grads))
    return {k: v * scale for k, v in out.items()}


def _combine(stats: list[dict[str, Any]], minibatches: int | None) -> dict[str, Any]:
    """What the replicas' parts of one update measured, as one: the steps summed, the Adam steps
    the driver took (``minibatches``, where it took them), every other number averaged over the
    replicas (``grad_norm`` is then the mean of each replica's norm, before clipping); what is
    not a number (the dormant shares by layer) is left out."""
    if not stats:
        return {}
    out: dict[str, Any] = {}
    for key in stats[0]:
        values = [v for s in stats if isinstance(v := s.get(key), (int, float)) and not isinstance(v, bool)]
        if len(values) == len(stats):
            out[key] = sum(values) if key == "samples" else sum(values) / len(values)
    if minibatches is not None:
        out["minibatches"] = minibatches
    return out


class DataParallel:
    """PPO across ``actors`` Ray actors of ``worlds`` worlds each (see the module's doc).

    ``ray`` must be initialised (``ray.init(...)``). :meth:`update` runs one update;
    :meth:`train` runs updates until ``steps`` steps, writing the run directory ``out``."""

    def __init__(
        self,
        scenario: str | os.PathLike[str],
        learner: str = "ppo",
        *,
        actors: int = 2,
        worlds: int = 1,
        seed: int = 0,
        threads: int = 1,
        overrides: dict[str, Any] | None = None,
        asynchronous: bool = False,
        log: Callable[[str], None] | None = None,
    ):
        if actors < 1 or worlds < 1 or threads < 1:
            raise ValueError(f"actors, worlds and threads must be at least 1, not {actors}, {worlds} and {threads}")
        self.scenario, self.name = scenario, learner
        self.actors, self.worlds, self.seed = actors, worlds, seed
        self.asynchronous = asynchronous
        self.overrides = dict(overrides or {})
        self._log = log or (lambda line: print(line, file=sys.stderr))
        # The scenario is read here, once: every replica gets its text, wherever it runs.
        text, file = _scenario_text(scenario)
        # The driver's learner holds the weights and Adam's moments; its one world is never
        # stepped. It is keyed by the first seed, as the first replica is.
        self.learner = Learner(learner, text, file=file, seeds=[seed], overrides=self.overrides)
        settings = self.learner.settings
        for name, on in (
            ("redo", settings["redo"]["every"] > 0),
            ("continual_backprop", settings["continual_backprop"]["replacement_rate"] > 0),
        ):
            if on:
                raise ValueError(
                    f"{name} is not supported across Ray actors: it replaces units from one "
                    "replica's steps, which the others' weights would not follow"
                )
        if settings["reward_scale"]:
            raise ValueError(
                "reward_scale is not supported across Ray actors: each replica would divide its "
                "rewards by the deviation of its own worlds' returns, so their gradients would "
                "be in different units"
            )
        self.rollout = int(settings["rollout"])
        self.seeds = [[seed + a * worlds + w for w in range(worlds)] for a in range(actors)]
        # Ray's proxies of the actors (typed as Any: their methods' `.remote` are Ray's own).
        # A replica steps its worlds on `threads` threads and computes its gradients on `shards`.
        cpus = max(threads, int(settings["shards"]))
        self.replicas: list[Any] = [
            Replica.options(num_cpus=cpus).remote(learner, text, file, s, threads, self.overrides, seed)
            for s in self.seeds
        ]
        self._pids = ray.get([r.pid.remote() for r in self.replicas])
        self._lives = ray.get([r.who.remote() for r in self.replicas])
        # Steps of every stream (on average, in asynchronous mode), and of every world in all.
        self.steps = 0
        self.env_steps = 0
        self.rounds = 0
        self.round_seconds = 0.0
        self.restarts = 0
        self.last_reward = 0.0
        # Asynchronous mode: each replica's work in flight, and the replicas' updates so far.
        self._in_flight: dict[Any, int] = {}
        self._replica_updates = 0

    @property
    def streams(self) -> int:
        return self.learner.streams * self.actors * self.worlds

    def _restarted(self, k: int, when: str, life: str) -> None:
        """Replica ``k`` died (``when`` says where) and Ray made it again, its new life ``life``;
        every call it gets carries the current weights."""
        self.restarts += 1
        self._lives[k] = life
        pid = ray.get(self.replicas[k].pid.remote())
        self._log(
            f"replica {k} (seeds {self.seeds[k]}) died {when} (process {self._pids[k]}); restarted as "
            f"process {pid} with fresh worlds, to take the current weights with its next call"
        )
        self._pids[k] = pid

    def _get(self, calls: list[tuple[int, Any]], when: str) -> dict[int, Any]:
        """The result of each call, by the replica it was made on (``calls`` pairs a replica's
        number with a call's reference); a replica that died, restarted, is left out. A call on a
        replica that did not die, but failed, stops the run."""
        out = {}
        for k, ref in calls:
            try:
                out[k] = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                life = self._life(k)
                if life == self._lives[k]:
                    raise
                self._restarted(k, when, life)
        return out

    def _life(self, k: int) -> str:
        """Replica ``k``'s life token, once Ray has it running: a call on an actor Ray is still
        making again fails as unavailable, for as long as that takes on a busy machine."""
        deadline = time.monotonic() + RESTART_SECONDS
        while True:
            try:
                return str(ray.get(self.replicas[k].who.remote()))
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _check_life(self, k: int, life: str, when: str) -> bool:
        """Whether ``life`` is replica ``k``'s known one; if not, it died between calls and was made
        again, and it is restarted now."""
        if life == self._lives[k]:
            return True
        self._restarted(k, when, life)
        return False

    def update(self) -> dict[str, Any]:
        """One update (in asynchronous mode: one replica's change applied); what it did."""
        if self.asynchronous:
            return self._update_asynchronously()
        started = time.perf_counter()
        weights = ray.put(self.learner.get_weights())
        when = f"collecting for update {self.learner.updates + 1}"
        collected = self._get([(k, r.collect.remote(self.rollout, weights)) for k, r in enumerate(self.replicas)], when)
        rewards = []
        for k in range(self.actors):
            # A replica that died while collecting collects again now, from its fresh worlds.
            while k not in collected:
                collected.update(self._get([(k, self.replicas[k].collect.remote(self.rollout, weights))], when))
            reward, life = collected[k]
            # One that died between calls collected in its new life, from fresh worlds but with
            # the current weights: its steps count.
            self._check_life(k, life, when)
            rewards.append(reward)
        self.steps += self.rollout
        self.env_steps += self.rollout * self.actors * self.worlds
        self.last_reward = float(sum(rewards))
        live = list(range(self.actors))
        minibatches = 0
        while live:
            when = f"in round {minibatches + 1} of update {self.learner.updates + 1}"
            round_started = time.perf_counter()
            answers = self._get([(k, self.replicas[k].gradients.remote(weights)) for k in live], when)
            given = []
            for k in list(live):
                g, life = answers.get(k, (None, None))
                if k not in answers or not self._check_life(k, life, when) or g is None:
                    # Done with this update; or dead, and out of it.
                    live.remove(k)
                else:
                    given.append(g)
            if given:
                self.learner.apply(_mean(given))
                weights = ray.put(self.learner.get_weights())
                minibatches += 1
                self.round_seconds += time.perf_counter() - round_started
        self.rounds += minibatches
        self.learner.end_update(self.rollout)
        when = f"after update {self.learner.updates}"
        stats = self._get([(k, r.last_update.remote()) for k, r in enumerate(self.replicas)], when)
        combined = _combine([s for s in stats.values() if s is not None], minibatches)
        combined.update(update=self.learner.updates, seconds=time.perf_counter() - started)
        return combined

    def _update_asynchronously(self) -> dict[str, Any]:
        if not self._in_flight:
            weights = ray.put(self.learner.get_weights())
            for k, r in enumerate(self.replicas):
                self._in_flight[r.local_update.remote(self.rollout, weights)] = k
        started = time.perf_counter()
        (ready,), _ = ray.wait(list(self._in_flight), num_returns=1)
        k = self._in_flight.pop(ready)
        when = f"before update {self.learner.updates + 1}"
        done = self._get([(k, ready)], when)
        if k in done:
            reward, life, change, stats = done[k]
            self._check_life(k, life, when)
            current = self.learner.get_weights()
            self.learner.set_weights({name: current[name] + change[name] for name in current})
            # A replica's update covers its own streams: 1/actors of every stream's steps.
            before = self._replica_updates * self.rollout // self.actors
            self._replica_updates += 1
            after = self._replica_updates * self.rollout // self.actors
            self.learner.end_update(after - before)
            self.steps += after - before
            self.env_steps += self.rollout * self.worlds
            self.last_reward = float(reward)
        # Its next update starts from the newest weights.
        newest = ray.put(self.learner.get_weights())
        self._in_flight[self.replicas[k].local_update.remote(self.rollout, newest)] = k
        if k not in done:
            return {}
        out = dict(stats or {})
        out.update(update=self.learner.updates, replica=k, seconds=time.perf_counter() - started)
        return out

    def train(self, steps: int, out: str | os.PathLike[str], *, metrics_every: int | None = None) -> dict[str, Any]:
        """Updates until every world has taken ``steps`` steps (whole rollouts: rounded up to
        them; in asynchronous mode, on average), writing into ``out`` what a local batched run
        writes — ``metrics.csv`` (a row every ``metrics_every`` steps, by default every rollout),
        ``learner.jsonl``, ``summary.json``, the checkpoint ``learner.safetensors`` — and
        ``ray.log``, the replicas' restarts. Ctrl-C (SIGINT) stops it after the update under way,
        with everything written. Returns the summary."""
        os.makedirs(out, exist_ok=True)
        every = metrics_every or self.rollout
        per_replica = self.streams // self.actors
        started = time.perf_counter()
        # Over all streams: steps taken and reward, in all, at the last metrics row, and at the
        # rows a final window may start at.
        stream_steps, reward = 0, 0.0
        row = (0, 0.0, 0, time.perf_counter())
        marks: deque[tuple[int, float]] = deque([(0, 0.0)])
        window = max(1, min(FINAL_WINDOW, -(-steps // 10))) * self.streams
        stop = {"asked": False}

        def ask_to_stop(*_: Any) -> None:
            stop["asked"] = True

        # Only the main thread may set a signal's handler; elsewhere Ctrl-C is the caller's.
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, ask_to_stop) if main_thread else None
        outer_log = self._log
        try:
            with open(os.path.join(out, "ray.log"), "w", encoding="utf-8") as log_file, open(
                os.path.join(out, "metrics.csv"), "w", encoding="utf-8"
            ) as metrics, open(os.path.join(out, "learner.jsonl"), "w", encoding="utf-8") as learner_log:

                def log(line: str) -> None:
                    outer_log(line)
                    log_file.write(line + "\n")
                    log_file.flush()

                self._log = log
                metrics.write("step,streams,reward,reward_rate,env_steps_per_sec\n")
                while stream_steps < steps * self.streams and not stop["asked"]:
                    stats = self.update()
                    if not stats:
                        continue
                    stream_steps += self.rollout * (per_replica if self.asynchronous else self.streams)
                    reward += self.last_reward
                    step = stream_steps // self.streams
                    speed = self.env_steps / max(time.perf_counter() - started, 1e-9)
                    learner_log.write(json.dumps({"step": step, "env_steps_per_sec": speed, **stats}) + "\n")
                    if step - row[0] // self.streams >= every or stream_steps >= steps * self.streams:
                        self._row(metrics, row, stream_steps, reward)
                        learner_log.flush()
                        row = (stream_steps, reward, self.env_steps, time.perf_counter())
                        marks.append((stream_steps, reward))
                        while len(marks) > 1 and marks[1][0] + window <= stream_steps:
                            marks.popleft()
                if stream_steps > row[0]:
                    self._row(metrics, row, stream_steps, reward)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
            self._log = outer_log
            # Between updates: the weights, Adam's moments and the steps counted agree.
            self.learner.save(os.path.join(out, "learner.safetensors"))
        seconds = time.perf_counter() - started
        from_steps, reward_before = marks[0]
        summary = {
            "scenario": str(self.scenario),
            "agent": self.name,
            "seeds": [s for group in self.seeds for s in group],
            "actors": self.actors,
            "worlds": self.actors * self.worlds,
            "streams": self.streams,
            "asynchronous": self.asynchronous,
            "steps": stream_steps // self.streams,
            "env_steps": self.env_steps,
            "seconds": seconds,
            "env_steps_per_sec": self.env_steps / max(seconds, 1e-9),
            "updates": self.learner.updates,
            "rounds": self.rounds,
            "seconds_per_round": self.round_seconds / max(self.rounds, 1),
            "reward_rate": reward / max(stream_steps, 1),
            "final_reward_rate": (reward - reward_before) / max(stream_steps - from_steps, 1),
            "final_window": (stream_steps - from_steps) // self.streams,
            "restarts": self.restarts,
            "weights_hash": self.learner.weights_hash(),
            "interrupted": stop["asked"],
        }
        with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        return summary

    def _row(self, metrics: Any, since: tuple[int, float, int, float], stream_steps: int, reward: float) -> None:
        """A metrics row for the steps since the row ``since`` (stream-steps, reward, env-steps,
        time)."""
        steps, before, env_steps, at = since
        spent = stream_steps - steps
        speed = (self.env_steps - env_steps) / max(time.perf_counter() - at, 1e-9)
        step = stream_steps // self.streams
        metrics.write(f"{step},{self.streams},{reward - before},{(reward - before) / max(spent, 1)},{speed:.0f}\n")
        metrics.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m beanworld.ray",
        description="Train our PPO learner across Ray actors (see beanworld.ray).",
    )
    parser.add_argument("--scenario", default="jbw-v0", help="a shipped scenario's name, or a .ron file")
    parser.add_argument("--learner", default="ppo", help='ppo, ppo-vision or ppo-scent, with settings: "ppo(rollout: 256)"')
    parser.add_argument("--actors", type=int, default=2, help="Ray actors, each a replica of the learner")
    parser.add_argument("--worlds", type=int, default=1, help="worlds per actor")
    parser.add_argument("--threads", type=int, default=1, help="threads stepping each actor's worlds")
    parser.add_argument("--steps", type=int, required=True, help="steps of every world (whole rollouts)")
    parser.add_argument("--seed", type=int, default=0, help="the first world's seed; the others follow it")
    parser.add_argument("--out", required=True, help="the run directory")
    parser.add_argument("--address", default=None, help="join a running cluster (auto, or HOST:PORT)")
    parser.add_argument("--asynchronous", action="store_true", help="apply each actor's gradients as they come")
    parser.add_argument("--metrics-every", type=int, default=None, help="steps between metrics rows")
    args = parser.parse_args(argv)
    if args.address is None:
        ray.init(num_cpus=max(args.actors, os.cpu_count() or 1), include_dashboard=False, logging_level=logging.ERROR)
    else:
        ray.init(address=args.address, logging_level=logging.ERROR)
    try:
        trainer = DataParallel(
            args.scenario,
            args.learner,
            actors=args.actors,
            worlds=args.worlds,
            seed=args.seed,
            threads=args.threads,
            asynchronous=args.asynchronous,
        )
        summary = trainer.train(args.steps, args.out, metrics_every=args.metrics_every)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        ray.shutdown()
    print(
        f"{summary['steps']} steps of {summary['worlds']} worlds on {summary['actors']} actors in "
        f"{summary['seconds']:.2f} s, {summary['env_steps_per_sec']:.0f} env-steps/s, {summary['updates']} updates; "
        f"reward rate {summary['reward_rate']:.4f}, final {summary['final_reward_rate']:.4f}; results in {args.out}"
    )
    return 130 if summary["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
