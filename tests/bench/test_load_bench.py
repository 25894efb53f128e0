"""The load bench's reference: engine processes computing answers with no server around them."""

from __future__ import annotations

import multiprocessing

import bench.load_bench as load_bench

SMALL = "depth=2&width=20&samples=50&run=relu,he_normal"


def test_engines_alone_count_answers_of_every_process_and_end() -> None:
    before = {child.pid for child in multiprocessing.active_children()}  # other tests' pools
    rate = load_bench.engines_alone(2, 0.3, SMALL)
    assert rate > 0
    assert {child.pid for child in multiprocessing.active_children()} <= before


def test_wrk_output_is_read_with_its_errors() -> None:
    output = """Running 8s test @ http://127.0.0.1:1/x
  Latency Distribution
     50%   35.20ms
     99%    1.10s
  412 requests in 8.01s, 6.85MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:     51.43
"""
    load = load_bench.parse_wrk(output)
    assert (load.requests_per_second, load.p50_ms, load.p99_ms, load.requests) == (51.43, 35.2, 1100.0, 412)
    assert (load.errors, load.non_2xx, load.socket_errors) == (7, 4, 3)
