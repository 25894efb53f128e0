"""The `initscope` command: in process against a real server, and the installed script."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.api.payload import CSV_COLUMNS
from app.http_protocol import HeaderTimeoutProtocol
from app.presets import PRESETS
from app.settings import load_settings
from tests.live import free_port, wait_healthy

SCRIPT = Path(sys.executable).with_name("initscope")
SHARE = "depth=3&width=20&samples=50&bins=4&run=tanh,xavier&run=relu,he_normal"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_simulate_preset_prints_one_line_of_json(
    capsys: pytest.CaptureFixture[str], live_server: str
) -> None:
    status, out, err = run(capsys, "simulate", "--preset", "saito-compare", "--url", live_server)
    assert (status, err) == (0, "")
    assert out.count("\n") == 1
    result = json.loads(out)
    assert result["share"] == PRESETS["saito-compare"].query
    assert len(result["runs"]) == 3


def test_cli_simulate_query_with_indent(capsys: pytest.CaptureFixture[str], live_server: str) -> None:
    status, out, _ = run(capsys, "simulate", "--query", SHARE, "--indent", "2", "--url", live_server)
    assert status == 0
    assert out.startswith('{\n  "share": ')
    assert json.loads(out)["share"] == SHARE


def test_cli_simulate_json_file_and_stdin(
    capsys: pytest.CaptureFixture[str], live_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {
        "depth": 3,
        "width": 20,
        "samples": 50,
        "bins": 4,
        "runs": [{"activation": "tanh", "init": "xavier"}],
    }
    (tmp_path / "body.json").write_text(json.dumps(body))
    status, out, _ = run(capsys, "simulate", "--json", str(tmp_path / "body.json"), "--url", live_server)
    assert status == 0
    assert json.loads(out)["share"] == "depth=3&width=20&samples=50&bins=4&run=tanh,xavier"
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(body)))
    assert run(capsys, "simulate", "--json", "-", "--url", live_server)[1] == out


def test_cli_simulate_csv_to_stdout_and_to_a_file(
    capsys: pytest.CaptureFixture[str], live_server: str, tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "simulate", "--query", SHARE, "--format", "csv", "--url", live_server)
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 2 * 3 * 3 * 4  # with the gradients
    target = tmp_path / "out.csv"
    status, out_to_file, _ = run(
        capsys, "simulate", "--query", SHARE, "--format", "csv", "--out", str(target), "--url", live_server
    )
    assert (status, out_to_file) == (0, "")
    assert target.read_text() == out


def test_cli_report_writes_standalone_html(
    capsys: pytest.CaptureFixture[str], live_server: str, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    status, out, err = run(
        capsys, "report", "--preset", "saito-relu-he", "--out", str(target), "--url", live_server
    )
    assert (status, out, err) == (0, "", "")
    html = target.read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "plotly" in html


def test_cli_presets_lists_names_and_titles(capsys: pytest.CaptureFixture[str], live_server: str) -> None:
    status, out, _ = run(capsys, "presets", "--url", live_server)
    assert status == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)
    assert lines[0].endswith(PRESETS["saito-compare"].title)


def test_cli_url_from_the_environment(
    capsys: pytest.CaptureFixture[str], live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INITSCOPE_URL", live_server)
    assert run(capsys, "presets")[0] == 0


def test_cli_unknown_preset_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], live_server: str
) -> None:
    status, out, err = run(capsys, "simulate", "--preset", "nope", "--url", live_server)
    assert (status, out) == (1, "")
    assert err.startswith("initscope: error: HTTP 404: no preset 'nope'; presets are saito-compare")
    assert err.count("\n") == 1


def test_cli_invalid_field_exits_1_naming_it(capsys: pytest.CaptureFixture[str], live_server: str) -> None:
    status, _, err = run(capsys, "simulate", "--query", "run=relu,normal,std:-1", "--url", live_server)
    assert status == 1
    assert err == "initscope: error: HTTP 422: runs[0].std: must be between 0 and 100\n"


def test_cli_connection_refused_exits_1_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "presets", "--url", f"http://127.0.0.1:{free_port()}")
    assert status == 1
    assert err.startswith("initscope: error: cannot reach http://127.0.0.1:")
    assert err.endswith("is the server running? start it with `initscope serve`\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["simulate"], "one of the arguments --preset --query --json is required"),
        (["simulate", "--preset", "a", "--query", "b"], "not allowed with argument"),
        (["simulate", "--preset", "a", "--format", "xml"], "invalid choice: 'xml'"),
        (["report", "--preset", "a"], "the following arguments are required: --out"),
        (["simulate", "--json", "missing.json"], "--json missing.json: [Errno 2]"),
        (["serve", "--workers", "0"], "--workers must be at least 1"),
        (["serve", "--workers", "2", "--reload"], "--reload runs one process"),
    ],
)
def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert message in err


def test_cli_json_that_is_not_an_experiment_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{")
    assert (
        "an experiment is a JSON object" in run(capsys, "simulate", "--json", str(tmp_path / "list.json"))[2]
    )
    assert run(capsys, "simulate", "--json", str(tmp_path / "bad.json"))[0] == 2


ENVIRON = {
    "INITSCOPE_TIMEOUT_KEEP_ALIVE": "2",
    "INITSCOPE_LIMIT_CONCURRENCY": "50",
    "INITSCOPE_SHUTDOWN_SECONDS": "3",
}


def test_cli_serve_runs_uvicorn_on_the_import_string(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert run(capsys, "serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "4")[0] == 0
    [(args, kwargs)] = calls
    assert args == ("app.main:app",)
    assert kwargs == {
        "host": "0.0.0.0",
        "port": 9000,
        "workers": 4,
        "reload": False,
        "timeout_keep_alive": 5,
        "limit_concurrency": 1000,
        "timeout_graceful_shutdown": 5,
        "access_log": True,
        "server_header": False,
        "http": HeaderTimeoutProtocol,
        "timeout_worker_healthcheck": cli.WORKER_HEALTHCHECK_SECONDS,
    }


def test_cli_serve_takes_the_server_settings_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr("app.settings.current_settings", lambda: load_settings(ENVIRON))
    assert run(capsys, "serve", "--no-access-log")[0] == 0
    [kwargs] = calls
    assert (
        kwargs["timeout_keep_alive"],
        kwargs["limit_concurrency"],
        kwargs["timeout_graceful_shutdown"],
    ) == (
        2,
        50,
        3,
    )
    assert kwargs["access_log"] is False


def test_cli_installed_script_help() -> None:
    assert SCRIPT.exists(), "`pip install -e .` installs the initscope command"
    done = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "simulate", "report", "presets"):
        assert command in done.stdout


def test_cli_installed_script_serves(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [SCRIPT, "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _ClosedPipe(io.StringIO):
    """Standard output whose reader has gone (`initscope ... | head`)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        return self.fd


def test_cli_quiet_when_the_reader_stops(
    capsys: pytest.CaptureFixture[str], live_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fd = os.open(tmp_path / "stdout", os.O_WRONLY | os.O_CREAT)
    try:
        monkeypatch.setattr(sys, "stdout", _ClosedPipe(fd))
        status = cli.main(["simulate", "--query", SHARE, "--format", "csv", "--url", live_server])
    finally:
        os.close(fd)
    assert status == 1
    assert capsys.readouterr().err == ""  # no traceback, no message: the reader chose to stop


def test_cli_serve_shares_a_folder_with_its_workers_only_while_it_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INITSCOPE_SHARED_DIR", raising=False)
    seen: list[Path] = []

    def fake_run(*args: object, **kwargs: object) -> None:
        folder = Path(os.environ["INITSCOPE_SHARED_DIR"])
        assert folder.is_dir()
        seen.append(folder)

    monkeypatch.setattr("uvicorn.run", fake_run)
    assert run(capsys, "serve")[0] == 0
    # gone after: a later app in this process must not open a deleted folder's registry
    assert "INITSCOPE_SHARED_DIR" not in os.environ and not seen[0].exists()


def _workers(parent: int) -> list[int]:
    """The uvicorn workers of a server process: its children started by multiprocessing's spawn."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]


def test_cli_serve_keeps_a_worker_that_is_slow_to_answer() -> None:
    # uvicorn's default kills a worker that misses one 5 s ping: on a loaded machine a worker
    # still importing NumPy (or busy for a moment) was killed and restarted, and the server did
    # not answer in time. A worker stopped for 8 s must still be the same worker afterwards.
    import signal
    import time

    import httpx

    from tests.live import serve

    with serve(options=("--workers", "2")) as (url, proc):
        deadline = time.monotonic() + 30
        while len(workers := _workers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGSTOP)
        try:
            time.sleep(8)
        finally:
            os.kill(workers[0], signal.SIGCONT)
        time.sleep(1)
        assert _workers(proc.pid) == workers  # neither killed nor replaced
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("options", [(), ("--workers", "2")], ids=["one process", "two workers"])
def test_cli_serve_stopped_by_sigterm_leaves_nothing_behind(tmp_path: Path, options: tuple[str, ...]) -> None:
    # uvicorn raises SIGTERM again after its graceful stop; with the default action there the
    # process ended without unwinding: the workers' shared folder and the engines' forkserver
    # folder stayed in the temporary directory
    import httpx

    from tests.live import serve

    with serve(environ={"TMPDIR": str(tmp_path)}, options=options) as (url, proc):
        httpx.get(f"{url}/api/v1/simulate?{SHARE}", timeout=60).raise_for_status()  # starts the engines
        assert [p.name.startswith("initscope-") for p in tmp_path.iterdir()].count(True) == 1
    assert proc.returncode == 0  # a stop asked for, as with --workers and Ctrl-C
    left = sorted(p.name for p in tmp_path.iterdir())
    if options:
        # uvicorn's workers end by the signal itself, past their exit handlers: the forkserver's
        # folder of the worker that ran engines stays (multiprocessing's, "pymp-")
        left = [name for name in left if not name.startswith("pymp-")]
    assert left == []
