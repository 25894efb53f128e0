"""The book's MNIST init comparison (784-100x4-10 ReLU, SGD lr 0.01, batch 128), timed against the
same training written in PyTorch on the CPU, in the same run.

    python -m bench.train_bench [--quick] [--iterations 2000] [--threads 1,2] [--repeats 3]

For each BLAS thread count, a fresh child process (OPENBLAS_NUM_THREADS and torch.set_num_threads
set before any work) trains std 0.01, Xavier and He with the engine and with PyTorch, alternating,
so machine noise hits both alike. Both start from the same weights (the engine's, copied into the
torch model) and see the same batches. Peak RSS is measured in further children, one per
workload, since ru_maxrss only ever grows within a process. PyTorch is optional: without it the
torch columns say so and the engine is timed alone. It is not a project dependency.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.engine.training.config import TrainConfig, make_train_config, train_cost
from app.engine.training.datasets import mnist
from app.engine.training.trainer import Trainer, batch_schedule

ROOT = Path(__file__).resolve().parents[1]
INITS: dict[str, dict[str, object]] = {
    "std 0.01": {"init": "normal", "std": 0.01},
    "xavier": {"init": "xavier"},
    "he": {"init": "he_normal"},
}
BOOK = {"activation": "relu", "depth": 4, "width": 100}
LOAD_WARNING = 0.5  # 1-minute load above this on a 2-core machine makes timings unreliable
MIB = 1 << 20


def load_torch() -> Any | None:
    """torch, imported by name so that type checkers and installs without it are unaffected."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def config(init: str, iterations: int, records: bool) -> TrainConfig:
    """records=False: only the first and last evaluation, as the torch loop does (one at the end)."""
    every = 50 if records else iterations
    captures: list[int] | None = None if records else []
    return make_train_config(
        {**BOOK, **INITS[init]}, iterations=iterations, record_every=every, captures=captures
    )


def run_engine(cfg: TrainConfig) -> tuple[float, float, float]:
    """(seconds, mean loss of the last 100 steps, test accuracy)."""
    start = time.perf_counter()
    trainer = Trainer(cfg)
    trainer.advance()
    seconds = time.perf_counter() - start
    result = trainer.result()
    return seconds, float(np.mean(result.loss[-100:])), result.records[-1].test_accuracy


def run_torch(torch: Any, cfg: TrainConfig) -> tuple[float, float, float]:
    """The same training in PyTorch: nn.Linear + ReLU, CrossEntropyLoss, optim.SGD, same batches."""
    data = mnist()
    start = time.perf_counter()
    x_train = torch.from_numpy(np.array(data.x_train))  # a writable copy: torch wants one
    y_train = torch.from_numpy(data.y_train.astype(np.int64))
    params = Trainer(cfg, data).model.params  # the engine's initial weights
    layers: list[Any] = []
    for k in range(1, 6):
        linear = torch.nn.Linear(*params[f"W{k}"].shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{k}"].T.copy()))
            linear.bias.copy_(torch.from_numpy(params[f"b{k}"].copy()))
        layers += [linear, torch.nn.ReLU()] if k < 5 else [linear]
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=dict(cfg.optimizer_params)["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = batch_schedule(len(data.y_train), cfg.batch_size, cfg.batch_seed)
    losses = []
    for _ in range(cfg.iterations):
        idx = torch.from_numpy(next(batches))
        optimizer.zero_grad()
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        logits = model(torch.from_numpy(np.array(data.x_test)))
        accuracy = float((logits.argmax(dim=1).numpy() == data.y_test).mean())
    return time.perf_counter() - start, float(np.mean(losses[-100:])), accuracy


def child_time(threads: int, iterations: int, repeats: int) -> None:
    torch = load_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    mnist()  # loaded before timing: every workload shares it
    run_engine(config("he", 20, records=True))  # warm-up: first calls, caches, allocator
    if torch is not None:
        run_torch(torch, config("he", 20, records=False))
    out: dict[str, Any] = {}
    for init in INITS:
        rows: dict[str, list[tuple[float, float, float]]] = {"engine": [], "engine+rec": [], "torch": []}
        for _ in range(repeats):
            rows["engine"].append(run_engine(config(init, iterations, records=False)))
            rows["engine+rec"].append(run_engine(config(init, iterations, records=True)))
            if torch is not None:
                rows["torch"].append(run_torch(torch, config(init, iterations, records=False)))
        out[init] = rows
    print(json.dumps(out))


def child_rss(workload: str, iterations: int) -> None:
    cfg = config("he", iterations, records=workload == "engine+rec")
    if workload == "torch":
        torch = load_torch()
        if torch is None:
            print(json.dumps(None))
            return
        torch.set_num_threads(1)
        run_torch(torch, cfg)
    elif workload != "imports":
        run_engine(cfg)
    print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB))


def spawn(args: list[str], threads: int) -> Any:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "bench.train_bench", *args]
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def header(torch_version: str | None) -> None:
    load = float(Path("/proc/loadavg").read_text().split()[0])
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch_version or 'absent'}, ",
        end="",
    )
    print(f"cpu_count {os.cpu_count()}")
    print(f"1-minute load average: {load:.2f}")
    if load > LOAD_WARNING:
        print(f"WARNING: load {load:.2f} > {LOAD_WARNING}: the machine is busy, timings are noisy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="200 iterations, one thread, one repeat (smoke test)"
    )
    parser.add_argument(
        "--iterations", type=int, default=2000, help="steps per run (default 2000, the book's)"
    )
    parser.add_argument("--threads", default="1,2", help="BLAS thread counts to time, comma separated")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per init and workload (min shown)")
    parser.add_argument("--child", choices=("time", "rss"), help=argparse.SUPPRESS)
    parser.add_argument("--workload", default="engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    iterations = 200 if args.quick else args.iterations
    threads = [1] if args.quick else [int(t) for t in args.threads.split(",")]
    repeats = 1 if args.quick else args.repeats
    if args.child == "time":
        child_time(threads[0], iterations, repeats)
        return
    if args.child == "rss":
        child_rss(args.workload, iterations)
        return

    # Every RSS child runs before this process imports torch: a child's ru_maxrss starts at its
    # parent's peak (Linux carries it across fork and exec).
    rss = {w: spawn(["--child", "rss", "--workload", w, "--iterations", str(iterations)], 1)
           for w in ("imports", "engine", "engine+rec", "torch")}  # fmt: skip
    torch = load_torch()
    header(None if torch is None else str(torch.__version__))
    if torch is None:
        print("PyTorch is not installed: timing the engine alone (pip install torch to compare).")
    cost = train_cost(config("he", iterations, records=False))
    print(f"{iterations} iterations of batch 128: {cost.macs / 1e9:.1f} G multiply-adds per run\n")
    print(f"{'threads':>7} {'init':<9} {'engine s':>9} {'+records s':>11} {'torch s':>8} {'engine/torch':>13}"
          f" {'loss engine':>12} {'torch':>7} {'test acc':>9} {'torch':>6}")  # fmt: skip
    for n in threads:
        child = ["--child", "time", "--threads", str(n), "--iterations", str(iterations)]
        times = spawn([*child, "--repeats", str(repeats)], n)
        for init, rows in times.items():
            engine, recorded = min(rows["engine"]), min(rows["engine+rec"])
            line = f"{n:>7} {init:<9} {engine[0]:9.2f} {recorded[0]:11.2f}"
            if rows["torch"]:
                tt = min(rows["torch"])
                line += f" {tt[0]:8.2f} {engine[0] / tt[0]:13.2f} {engine[1]:12.3f} {tt[1]:7.3f}"
                line += f" {engine[2]:9.3f} {tt[2]:6.3f}"
            else:
                line += f" {'-':>8} {'-':>13} {engine[1]:12.3f} {'-':>7} {engine[2]:9.3f} {'-':>6}"
            print(line, flush=True)
    print("\npeak RSS MiB (one He run, 1 thread): " + ", ".join(
        f"{w} {'-' if v is None else f'{v:.0f}'}" for w, v in rss.items()))  # fmt: skip
    print(
        "\nengine s: Trainer(config) and advance(), records at the first and last step only.\n"
        "+records s: the same with a record every 50 steps (probe and test accuracy, dead units,\n"
        "update ratios) and 4 captures (histograms, distinct units): what the dashboard shows.\n"
        "torch s: model built from the engine's initial weights, the training loop (loss.item() each\n"
        "step, as the engine keeps every loss) and a final test accuracy. Min of --repeats runs.\n"
        "loss: mean batch loss of the last 100 steps; the book's figure shows std 0.01 at 2.30, He\n"
        "lowest. peak RSS: ru_maxrss of a fresh child; 'imports' only imports numpy and the engine."
    )


if __name__ == "__main__":
    main()
