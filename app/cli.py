"""The `initscope` command: serve the dashboard, run experiments against a running server, or sweeps.

    initscope serve --port 8000
    initscope simulate --preset saito-compare --format csv --out saito.csv
    initscope report --preset deep-relu-compare --out report.html
    initscope sweep --link "depth=30&run=tanh,xavier" --axis gain=0.5:4:lin:15 --out grid.csv

Exit status: 0 done (`serve`: stopped by SIGTERM or Ctrl-C, after a graceful shutdown), 1 the API
answered an error or could not be reached, 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .client import DEFAULT_URL, Client, InitscopeConnectionError, InitscopeError
from .sweeps.presets import SWEEP_PRESETS

URL_VARIABLE = "INITSCOPE_URL"
WORKER_HEALTHCHECK_SECONDS = 30  # a worker that answers no ping for this long is hung: restarted


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initscope",
        description="What weight initialization and activation choice do to every layer of a deep network.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the dashboard and the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    serve.add_argument("--no-access-log", action="store_true", help="log no line per request")

    url = argparse.ArgumentParser(add_help=False)
    url.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE, DEFAULT_URL),
        help=f"the server (default: ${URL_VARIABLE} or {DEFAULT_URL})",
    )
    experiment = argparse.ArgumentParser(add_help=False)
    given = experiment.add_mutually_exclusive_group(required=True)
    given.add_argument("--preset", metavar="NAME", help="a preset (`initscope presets` lists them)")
    given.add_argument("--query", metavar="QUERY", help="a share query, or a whole dashboard link")
    given.add_argument("--json", metavar="FILE", help="a POST /api/v1/simulate body; - reads stdin")

    simulate = commands.add_parser(
        "simulate", parents=[experiment, url], help="run an experiment, print its JSON or CSV"
    )
    simulate.add_argument("--format", choices=["json", "csv"], default="json", help="(default: json)")
    simulate.add_argument("--indent", type=int, metavar="N", help="pretty-print the JSON (default: one line)")
    simulate.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")

    report = commands.add_parser(
        "report", parents=[experiment, url], help="write an experiment's standalone HTML report"
    )
    report.add_argument("--out", metavar="FILE", required=True, help="the HTML file to write")

    commands.add_parser("presets", parents=[url], help="list the presets")

    sweep = commands.add_parser(
        "sweep",
        help="run a sweep (a grid of experiments or trainings) on Dask: a local cluster, or --scheduler's",
        description="Runs here, not through a server: on a LocalCluster of this machine's cores, or on "
        "the Dask scheduler of --scheduler (or $INITSCOPE_DASK_SCHEDULER), whose workers have initscope "
        "installed. Writes one row per point and run: its link, its axes' values and its metrics.",
    )
    base = sweep.add_mutually_exclusive_group(required=True)
    base.add_argument(
        "--link", metavar="LINK", help="a share link or query (axis.<field>= pairs may be in it)"
    )
    base.add_argument("--preset", metavar="NAME", help="a sweep preset (" + ", ".join(SWEEP_PRESETS) + ")")
    sweep.add_argument(
        "--axis",
        action="append",
        default=[],
        metavar="FIELD=VALUES",
        help="an axis: std=0.01:1:log:20 (a range: low:high:lin|log:n), activation=relu,tanh (a list); "
        "std.run2=... varies run 2 alone. Repeat for more axes; the first is the slowest",
    )
    sweep.add_argument(
        "--metric", action="append", default=[], metavar="NAME", help="keep only these metrics"
    )
    sweep.add_argument("--out", metavar="FILE", help="write CSV (or JSON, for a .json name) to FILE")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, tcp://host:8786")
    sweep.add_argument("--workers", type=int, metavar="N", help="local cluster's workers (default: cores)")
    return parser


def _experiment(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The experiment arguments as keyword arguments of the client's methods."""
    if args.json is None:
        return {"preset": args.preset, "query": args.query}
    try:
        text = sys.stdin.read() if args.json == "-" else Path(args.json).read_text(encoding="utf-8")
        body = json.loads(text)
    except (OSError, ValueError) as err:
        parser.error(f"--json {args.json}: {err}")
    if not isinstance(body, dict):
        parser.error(f'--json {args.json}: an experiment is a JSON object, like {{"runs": [...]}}')
    return {"experiment": body}


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    else:
        Path(out).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """`name` set to `value` while the server runs (its workers inherit it), as it was after."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _compile_kernels() -> None:
    """Compile the engine's kernels into numba's disk cache before serving, or check they are
    there (~0.6 s): the first start after an install compiles them (~20 s of CPU), which the
    first experiment would otherwise wait for. In a child process, so that this one (uvicorn's
    supervisor of its workers) does not keep numba's memory; a failure there is left to the
    engines, which compile what they need."""
    print("initscope: loading the engine's kernels (compiled once after an install)", file=sys.stderr)
    subprocess.run([sys.executable, "-c", f"import {__package__}.engine.warm"], check=False)


class _Terminated(BaseException):
    """SIGTERM, raised where the process is (like KeyboardInterrupt, past `except Exception`)."""


def _serve(args: argparse.Namespace) -> int:
    """Serve until stopped. A SIGTERM is a stop asked for, as Ctrl-C is: after the graceful
    shutdown the process exits 0, as it does with --workers and on Ctrl-C.

    uvicorn stops gracefully on SIGTERM (docker stop, systemd, a test's terminate()), then raises
    the signal again so that the process ends as terminated. With the default action there, the
    process ended without unwinding or running its exit handlers: the workers' shared folder and
    the engines' forkserver folder stayed behind in the temporary directory, per server stopped."""

    def unwind(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        return _serve_until_stopped(args)
    except _Terminated:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve_until_stopped(args: argparse.Namespace) -> int:
    import uvicorn  # only here: the client commands need nothing but httpx

    from .http_protocol import HeaderTimeoutProtocol
    from .settings import SHARED_DIR_VARIABLE, current_settings

    settings = current_settings()
    _compile_kernels()
    # One folder per server, which its workers share (the trainings' registry, so that a cancel
    # reaches the worker that runs the training); removed when the server stops.
    with tempfile.TemporaryDirectory(prefix="initscope-") as shared, _environ(SHARED_DIR_VARIABLE, shared):
        # The import string, not the app object: uvicorn needs it to start workers or reload.
        uvicorn.run(
            f"{__package__}.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            reload=args.reload,
            timeout_keep_alive=settings.timeout_keep_alive,
            limit_concurrency=settings.limit_concurrency,
            timeout_graceful_shutdown=settings.shutdown_seconds,
            access_log=not args.no_access_log,
            server_header=False,  # no "server: uvicorn": the version helps nobody but an attacker
            http=HeaderTimeoutProtocol,  # a deadline on each request's header (INITSCOPE_HEADER_TIMEOUT)
            # uvicorn kills a worker that misses one 5 s ping: on a loaded machine a worker still
            # importing NumPy, or one busy for a few seconds, is slow, not hung
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    return 0


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "sweep":
        from .sweep_cli import run_sweep  # only here: the client commands need nothing but httpx

        return run_sweep(parser, args)
    if args.command == "serve":
        if args.workers < 1:
            parser.error("--workers must be at least 1")
        if args.reload and args.workers > 1:
            parser.error("--reload runs one process; leave out --workers")
        return _serve(args)
    with Client(args.url) as client:
        if args.command == "presets":
            presets = client.presets()
            width = max(len(p["name"]) for p in presets)
            _write("".join(f"{p['name']:<{width}}  {p['title']}\n" for p in presets), None)
        elif args.command == "report":
            _write(client.report(**_experiment(parser, args)), args.out)
        elif args.format == "csv":
            _write(client.export_csv(**_experiment(parser, args)), args.out)
        else:
            separators = (",", ": ") if args.indent is not None else (",", ":")
            result = client.simulate(**_experiment(parser, args))
            _write(json.dumps(result, indent=args.indent, separators=separators), args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        return _run(parser, args)
    except SystemExit as done:  # argparse: 2 for a usage error, 0 after --help
        if isinstance(done.code, int):
            return done.code
        raise
    except BrokenPipeError:
        # The reader stopped early (`| head`): send the rest of stdout nowhere so that Python's
        # final flush does not report the broken pipe too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except InitscopeConnectionError as err:
        hint = "is the server running? start it with `initscope serve`"
        print(f"initscope: error: {err}; {hint}", file=sys.stderr)
        return 1
    except InitscopeError as err:
        print(f"initscope: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # writing --out
        print(f"initscope: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
