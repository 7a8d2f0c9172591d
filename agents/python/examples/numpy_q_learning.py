"""A learner in NumPy alone, no deep-learning framework: tabular Q-learning, online and
never-ending (no episodes), over a small state read off the vision window — where the nearest
jelly bean in sight is (ahead, left, right, behind, none) and whether a wall blocks the way ahead.
In JBW's classic world it learns within its first 10,000 steps to walk to the jelly beans it sees:
0.02–0.03 jelly beans a step, twenty to thirty times the random agent (about 0.001).

    python agents/python/examples/numpy_q_learning.py
"""

import numpy as np

import beanworld

env = beanworld.make("jbw-v0", seed=1)
obs, _ = env.reset(seed=1)
rng = np.random.default_rng(1)

# The vision window is [right][forward][channel], the agent at its centre facing "forward".
side = obs["vision"].shape[0]
r = side // 2
right, forward = np.meshgrid(np.arange(side) - r, np.arange(side) - r, indexing="ij")
distance = np.abs(right) + np.abs(forward)
distance[r, r] = 10**6  # the agent's own cell (agents are blue like jelly beans)
BEAN, WALL = np.array([0.0, 0.0, 1.0]), np.array([0.5, 0.5, 0.5])  # colours in jbw-v0


def state(obs) -> int:
    vision = obs["vision"]
    beans = np.all(np.isclose(vision, BEAN), axis=2)
    where = 4  # none in sight
    if beans.any():
        k = np.argmin(np.where(beans, distance, 10**6))
        x, y = right.flat[k], forward.flat[k]
        where = 0 if y > 0 and abs(x) <= y else 1 if x < 0 and abs(y) < -x else 2 if x > 0 and abs(y) < x else 3
    blocked = int(np.allclose(vision[r, r + 1], WALL))
    return 2 * where + blocked


n_actions = len(env.actions)  # forward, turn left, turn right
q = np.zeros((10, n_actions))
alpha, gamma, epsilon = 0.1, 0.9, 0.05
s = state(obs)
recent = 0.0
for step in range(1, 60_001):
    a = int(rng.integers(n_actions)) if rng.random() < epsilon else int(np.argmax(q[s]))
    obs, reward, _, _, _ = env.step(a)
    s_next = state(obs)
    q[s, a] += alpha * (reward + gamma * q[s_next].max() - q[s, a])
    s = s_next
    recent += reward
    if step % 10_000 == 0:
        print(f"step {step}: {recent / 10_000:.4f} jelly beans per step over the last 10,000")
        recent = 0.0
