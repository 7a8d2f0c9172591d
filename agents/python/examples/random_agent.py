"""A random agent in JBW's classic world: the smallest beanworld program.

    python agents/python/examples/random_agent.py
"""

import beanworld

env = beanworld.make("jbw-v0", seed=0)
obs, info = env.reset()
total = 0.0
for _ in range(10_000):
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    total += reward
print(f"{info['step']} steps, {total:.0f} jelly beans, trajectory {info['trajectory_hash']}")
