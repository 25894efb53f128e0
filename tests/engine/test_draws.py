"""The compiled normal draws give NumPy's values and leave the generator where NumPy's call does."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.engine import draws

SIZES = [draws.MIN_VALUES, draws.MIN_VALUES + 1, 10_001, 100 * 100, 1000 * 100]


def same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), f"{np.count_nonzero(a != b)} of {a.size} values differ"


def _state(rng: np.random.Generator) -> dict[str, object]:
    """The generator's state, without the kept half when none is kept (NumPy leaves a stale one)."""
    state = dict(rng.bit_generator.state)
    if not state["has_uint32"]:
        state["uinteger"] = 0
    return state


def test_draws_compiled_here() -> None:
    # numba's transcription of the ziggurat is importable: the fast path is the one tested below
    assert draws.COMPILED


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("before", [0, 1, 2, 3])  # odd: the generator holds half a draw
def test_standard_normal_same_values_and_state(dtype: type[np.floating], size: int, before: int) -> None:
    for seed in (0, 1, 12345, 2**40 + 7):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        ours.standard_normal(before, dtype=np.float32)
        numpys.standard_normal(before, dtype=np.float32)
        got = draws.standard_normal(ours, size, dtype)
        want = numpys.standard_normal(size, dtype=dtype)
        same_bits(got, want)
        assert _state(ours) == _state(numpys)
        # and the stream goes on alike, in both widths
        same_bits(ours.standard_normal(3, dtype=np.float32), numpys.standard_normal(3, dtype=np.float32))
        same_bits(ours.standard_normal(3), numpys.standard_normal(3))


def test_standard_normal_many_seeds_cover_the_ziggurats_rare_branches() -> None:
    # 0.7% of float32 values take the wedge or the tail: 200 seeds x 20,000 values take both often
    for seed in range(200):
        got = draws.standard_normal(np.random.default_rng([seed, 9]), (20, 1000))
        same_bits(got, np.random.default_rng([seed, 9]).standard_normal((20, 1000), dtype=np.float32))
    assert np.abs(got).max() > 3.4  # the tail (beyond ziggurat's r, 3.44) was taken somewhere


@pytest.mark.parametrize("seed", [604, 736, 794, 1015, 1350, 1363])
def test_standard_normal_float32_wedge_compares_in_double(seed: int) -> None:
    """Seeds whose (1000, 100) float32 draw takes a wedge value where a float32 comparison with
    exp(-x^2 / 2) and NumPy's double one disagree (numba's transcription of the ziggurat did the
    former: the stream then shifted by one value, and these links' answers changed)."""
    got = draws.standard_normal(np.random.default_rng(seed), (1000, 100))
    same_bits(got, np.random.default_rng(seed).standard_normal((1000, 100), dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standard_normal_a_thousand_seeds_of_inputs(dtype: type[np.floating]) -> None:
    """1e8 values as a thousand links' (1000, 100) inputs: a rare branch taken otherwise than
    NumPy takes it (once in 2.5e7 values, for the float32 wedge) would show here ~4 times."""
    for seed in range(1000):
        got = draws.standard_normal(np.random.default_rng(seed), (1000, 100), dtype)
        same_bits(got, np.random.default_rng(seed).standard_normal((1000, 100), dtype=dtype))


def test_standard_normal_one_stream_of_ten_million_float32_values() -> None:
    # one generator across many calls (the seeds above hold certain wedge disagreements)
    ours, numpys = np.random.default_rng(2026), np.random.default_rng(2026)
    for _ in range(10):
        same_bits(draws.standard_normal(ours, 1_000_000), numpys.standard_normal(1_000_000, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standard_normal_shapes_and_out(dtype: type[np.floating]) -> None:
    shapes: list[int | tuple[int, ...]] = [(100, 100), (7, 11, 31), 5000]
    for shape in shapes:
        out = np.empty(shape, dtype)
        got = draws.standard_normal(np.random.default_rng(3), shape, dtype, out=out)
        assert got is out
        same_bits(out, np.random.default_rng(3).standard_normal(shape, dtype=dtype))


def test_standard_normal_numpy_integer_sizes() -> None:
    for shape in (np.int64(5000), (np.int32(50), np.int64(100))):
        got = draws.standard_normal(np.random.default_rng(6), shape)
        same_bits(got, np.random.default_rng(6).standard_normal(shape, dtype=np.float32))


def test_standard_normal_out_numpy_refuses_is_refused_as_numpy_does() -> None:
    """A read-only or misaligned `out` goes to NumPy's own call, which refuses it, never to the
    compiled loop (which would write into it)."""
    readonly = np.empty((100, 100), np.float32)
    readonly.flags.writeable = False
    misaligned = np.empty(100 * 100 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(100, 100)
    for out in (readonly, misaligned):
        with pytest.raises(ValueError, match="contiguous, writable, aligned"):
            draws.standard_normal(np.random.default_rng(3), (100, 100), np.float32, out=out)


def test_standard_normal_bad_out_is_numpys_error() -> None:
    with pytest.raises((ValueError, TypeError)):
        draws.standard_normal(
            np.random.default_rng(3), (100, 100), np.float32, out=np.empty((100, 99), np.float32)
        )
    with pytest.raises((ValueError, TypeError)):
        draws.standard_normal(np.random.default_rng(3), (100, 100), np.float32, out=np.empty((100, 100)))


def test_standard_normal_small_and_other_generators_are_numpys() -> None:
    same_bits(
        draws.standard_normal(np.random.default_rng(4), 10),
        np.random.default_rng(4).standard_normal(10, dtype=np.float32),
    )
    for make in (np.random.MT19937, np.random.Philox, np.random.SFC64):
        got = draws.standard_normal(np.random.Generator(make(5)), 5000)
        same_bits(got, np.random.Generator(make(5)).standard_normal(5000, dtype=np.float32))
        got64 = draws.standard_normal(np.random.Generator(make(5)), 5000, np.float64)
        same_bits(got64, np.random.Generator(make(5)).standard_normal(5000))


def test_standard_normal_one_generator_shared_by_threads_draws_each_value_once() -> None:
    # the generator's lock is held, as NumPy holds it: 4 threads' draws are the stream, cut in 4
    rng = np.random.default_rng(8)
    results: list[np.ndarray] = []

    def take() -> None:
        for _ in range(20):
            results.append(draws.standard_normal(rng, 4096, np.float64))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stream = np.random.default_rng(8).standard_normal(80 * 4096)
    chunks = {stream[i * 4096 : (i + 1) * 4096].tobytes() for i in range(80)}
    assert {r.tobytes() for r in results} == chunks
