"""`initscope sweep`: a sweep run from the command line, on Dask, with a progress bar.

The base may be a training link (of=train, or a /train page's URL): each point is then one
training. It runs here, not through a server: on a LocalCluster of this machine (one single-threaded
worker per core), or on the scheduler given by --scheduler or INITSCOPE_DASK_SCHEDULER. The
limits are the server's (INITSCOPE_MAX_SWEEP_POINTS, INITSCOPE_MAX_SWEEP_MACS and the
per-experiment ones), so a sweep that runs here runs on a server too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import orjson

from .settings import current_settings
from .sweeps import cluster
from .sweeps.cost import SweepLimits, plan
from .sweeps.engine import ConfigError
from .sweeps.link import AXIS_PREFIX, KIND_KEY, parse_sweep
from .sweeps.metrics import METRIC_NAMES, TRAIN_METRIC_NAMES, metrics_for
from .sweeps.presets import SWEEP_PRESETS
from .sweeps.runner import PointCache, PointResult, SweepRun
from .sweeps.table import sweep_document, to_csv

BAR_WIDTH = 30


def sweep_query(link: str, axes: list[str]) -> str:
    """The sweep link of a base link (a whole URL or its query) and FIELD=VALUES axes. A /train
    page's URL is a training's link: its sweep says of=train."""
    query = link.partition("#")[0]
    path, mark, rest = query.partition("?")
    query = rest if mark else query
    pairs = [query] if query else []
    if mark and path.rstrip("/").endswith("/train") and KIND_KEY + "=" not in query:
        pairs.insert(0, f"{KIND_KEY}=train")
    for axis in axes:
        name, sep, values = axis.partition("=")
        if not sep or not name:
            raise ConfigError("--axis", f"is FIELD=VALUES, like std=0.01:1:log:20; got {axis!r}")
        pairs.append(f"{AXIS_PREFIX}{name}={quote(values, safe=',:')}")
    return "&".join(pairs)


class Progress:
    """A one-line bar on a terminal (redrawn in place); elsewhere a line at each tenth."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream = total, stream
        self.done = self.cached = self.failed = 0
        self.start = time.monotonic()
        self.tty = stream.isatty()
        self._tenth = -1

    def update(self, result: PointResult) -> None:
        self.done += 1
        self.cached += result.cached
        self.failed += result.error is not None
        tenth = self.done * 10 // self.total
        if self.tty or tenth != self._tenth or self.done == self.total:
            self._tenth = tenth
            self._draw()

    def _draw(self) -> None:
        filled = self.done * BAR_WIDTH // self.total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        failed = f", {self.failed} failed" if self.failed else ""
        line = f"[{bar}] {self.done}/{self.total} points{failed}, {time.monotonic() - self.start:.1f} s"
        end = "\n" if not self.tty or self.done == self.total else ""
        self.stream.write(("\r" if self.tty else "") + line + end)
        self.stream.flush()


def _keep(document: dict[str, Any], metrics: list[str]) -> dict[str, Any]:
    """The document with only `metrics` (in their order) in each point's runs."""
    docs = {m["name"]: m for m in document["metrics"]}
    points = [
        {**p, "runs": None if p["runs"] is None else [{k: run[k] for k in metrics} for run in p["runs"]]}
        for p in document["points"]
    ]
    return {**document, "metrics": [docs[name] for name in metrics], "points": points}


def run_sweep(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    unknown = [m for m in args.metric if m not in METRIC_NAMES and m not in TRAIN_METRIC_NAMES]
    if unknown:
        parser.error(
            f"--metric {unknown[0]}: unknown; metrics are {', '.join(METRIC_NAMES)} (experiments), "
            f"{', '.join(TRAIN_METRIC_NAMES)} (trainings)"
        )
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.preset is not None and args.preset not in SWEEP_PRESETS:
        parser.error(f"--preset {args.preset}: unknown; sweep presets are {', '.join(SWEEP_PRESETS)}")
    settings = current_settings()
    link = SWEEP_PRESETS[args.preset].query if args.preset else args.link
    try:
        planned = plan(
            parse_sweep(sweep_query(link, args.axis)),
            SweepLimits(settings.max_sweep_points, settings.max_sweep_macs),
            settings.limits,
        )
    except ConfigError as err:
        parser.error(f"{err.field}: {err.message}")
    names = [m.name for m in metrics_for(planned.sweep.kind)]
    wrong = [m for m in args.metric if m not in names]
    if wrong:
        what = "a training" if planned.sweep.kind == "train" else "an experiment"
        parser.error(f"--metric {wrong[0]}: not a metric of {what}'s points; they are {', '.join(names)}")
    address = args.scheduler or settings.dask_scheduler or None
    print(
        f"initscope: {planned.sweep.size} points, {planned.total_macs:,} multiply-adds, on "
        + (address or "a local cluster"),
        file=sys.stderr,
    )
    client = cluster.connect(address, args.workers)
    compute = None  # the kind's own (app/sweeps/point.py)
    if address and planned.sweep.kind == "train":
        # a scheduler that servers share: a link /train (or another sweep) trains is trained once
        from .api.train_point import compute_shared_training_point

        compute = compute_shared_training_point
    run = SweepRun(client, planned.points, PointCache(), compute, planned.sweep.kind)
    progress = Progress(planned.sweep.size, sys.stderr)
    results: list[PointResult] = []
    try:
        for result in run:
            results.append(result)
            progress.update(result)
    except KeyboardInterrupt:  # Ctrl-C: drop the points not yet run, write what is done
        run.cancel()
        print(f"\ninitscope: cancelled after {len(results)} points", file=sys.stderr)
    finally:
        cluster.close(client)
    document = sweep_document(planned.sweep, results, cancelled=run.cancelled)
    if args.metric:
        document = _keep(document, args.metric)
    json_out = args.out is not None and args.out.endswith(".json")
    text = orjson.dumps(document).decode() + "\n" if json_out else to_csv(document)
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    failed = sum(r.error is not None for r in results)
    return 1 if failed or run.cancelled else 0
