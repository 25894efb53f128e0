"""A real Dask cluster on loopback for tests: `dask scheduler` and `dask worker` processes, each in
its own process group, stopped and checked gone at the end."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client

from app.sweeps import cluster
from tests.sweeps.counting import LOG_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")
POINT_LOG = Path(f"/tmp/initscope-test-points-{os.getpid()}.log")  # the workers' calls (counting.py)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int], seconds: float = 20.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _end_with_the_tests() -> None:
    """In the child before exec: SIGTERM when the process that started it dies, so a test run killed
    by its timeout (no finally runs) leaves no scheduler or worker behind on its ports."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LoopbackCluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, each in its own process group."""

    def __init__(self, port: int) -> None:
        self.address = f"tcp://127.0.0.1:{port}"
        self.port = port
        self.processes: list[subprocess.Popen[bytes]] = []
        # workers import this checkout's app package, as a deployment's would import initscope
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), LOG_VARIABLE: str(POINT_LOG)}

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [str(DASK), *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_end_with_the_tests,
        )
        self.processes.append(process)
        return process

    def start_scheduler(self) -> None:
        self._start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-dashboard",
            # its HTTP routes bind 0.0.0.0:8787 even without a dashboard: loopback, a free port
            "--dashboard-address",
            "127.0.0.1:0",
        )

    def start_worker(self, port: int) -> subprocess.Popen[bytes]:
        # no nanny: one process per worker, so that killing it kills the worker
        return self._start(
            "worker", self.address, "--nthreads", "1", "--no-dashboard", "--no-nanny",
            "--host", "127.0.0.1", "--worker-port", str(port),
        )  # fmt: skip

    def stop(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        return wait_gone([p.pid for p in self.processes])


@contextmanager
def running_cluster(port: int, workers: int = 2) -> Iterator[tuple[LoopbackCluster, Client]]:
    """A scheduler on `port` and `workers` workers on the ports after it, and a client of it."""
    cluster_ = LoopbackCluster(port)
    client = None
    try:
        cluster_.start_scheduler()
        for k in range(workers):
            cluster_.start_worker(port + 1 + k)
        deadline = time.monotonic() + 60
        while client is None:
            try:
                client = cluster.connect(cluster_.address)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        client.wait_for_workers(workers, timeout=60)
        yield cluster_, client
    finally:
        if client is not None:
            cluster.close(client)
        assert cluster_.stop() == [], "a dask process outlived the test cluster"


@contextmanager
def silent_scheduler(port: int) -> Iterator[list[socket.socket]]:
    """A TCP port that accepts every connection and never sends a byte; yields the accepted ones."""
    accepted: list[socket.socket] = []
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)  # held open, never read nor written

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield accepted
    finally:
        stop.set()
        thread.join(5)
        server.close()
        for conn in accepted:
            conn.close()
