"""OutcomeLoop's benchmarks: how close the pipeline runs to its engine's own speed, and how far
ahead it is of what a user would otherwise write (`make bench`, `python -m benchmarks.run`).

Every figure is a ratio measured in one process on one machine, so it holds on a noisy one.
"""
