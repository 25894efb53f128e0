"""Sweeps: grids of share links, each computed as one independent task on a Dask cluster.

A sweep is a base link plus axes (app/sweeps/link.py; a training link's: app/sweeps/train_link.py);
it expands into canonical share links (or training links), each point's cost is bounded before
any runs (app/sweeps/cost.py), a point's summary metrics are computed where it runs
(app/sweeps/metrics.py, from the engine's own result), and a runner sends the points to a
`distributed.Client` and streams their results back as they complete (app/sweeps/runner.py).
Nothing here imports the web layer; app/sweeps/engine.py is the one module that imports the engine.
"""
