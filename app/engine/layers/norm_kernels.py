"""Compiled kernels of the normalization layers (norm.py): forward and backward of BatchNorm,
LayerNorm and RMSNorm in one or two passes over the layer instead of NumPy's four to eight.

Same bits as the NumPy steps they replace (tests/engine/layers/test_norm_kernels.py compares them
step by step, and test_norm.py the layers with the formulas they had). Each sum spells the order
NumPy adds in, on a C-ordered (samples, units) array of 2 to 8192 units:

- a column sum (np.einsum "ij->j", "ij,ij->j"): each column from +0.0, row after row, a product
  rounded before it is added;
- a row sum (np.add.reduce over axis 1): +0.0 plus NumPy's pairwise sum of the row (its leaves'
  eight accumulators as one vector, _eight_lanes; past 128 values the width's plan of leaves and
  additions, _pairwise_plan);
- a row sum of products (np.einsum "ij,ij->i"): einsum's SIMD loop at NumPy's x86-64 baseline
  (16-byte vectors, no fused multiply-add): one accumulator per lane, blocks of four vectors added
  last to first, a zero-padded last vector, then the lanes added pairwise (_einsum_dots). Past 8192
  values einsum's buffer splits the row, so wider layers keep the NumPy steps.

Elementwise steps are the same IEEE operations in the same order and dtype (a float32 layer stays
float32: the scalars come in as the layer's dtype). The accumulators NumPy keeps in vector lanes
are LLVM vectors here (numba intrinsics, below): numba's own compilation leaves such sums scalar.

Where every leaf of a row's pairwise sum starts and ends at a multiple of 16 values (_step_plan:
widths such as 16, 128, 512, 1024; not 100 or 1000), the row kernels walk each row once, 16
values a step, running its chains of additions beside each other and beside the elementwise work
of the row before (_forward_step, _dots_sums_and_output): a loop per chain waited on each in
turn, and four rows side by side read a layer that comes from memory as four streams.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types as numba_types
from numba.core import cgutils as numba_cgutils
from numba.extending import intrinsic
from numpy.typing import NDArray

from ..jit import kernel

types: Any = numba_types  # (numba's code generation helpers have no type information)
cgutils: Any = numba_cgutils

Array = NDArray[np.floating]
EPS = 1e-5  # added to the variance, as torch's default
MAX_UNITS = 8192  # einsum's buffer (NPY_BUFSIZE elements): a wider row is summed in pieces
INTERLEAVE_BYTES = 4 << 20  # up to this size, four rows side by side (_interleaved); BatchNorm's
# forward column sums four rows a loop


# numba runs LLVM's loop vectorizer only (its SLP vectorizer is off: numba#8852), which keeps an
# order-keeping sum written as scalar accumulators scalar: one value per addition. The two
# intrinsics below spell those accumulators as the vectors NumPy's own loops use, lane for lane
# and in the same order (LLVM vector fadd and fmul are IEEE operations per lane, with no fast-math
# flags: nothing reassociated, nothing fused). Their callers are tested bit for bit like the rest.
def _intrinsic(typer: Any) -> Any:
    """numba's @intrinsic (its callable typed as Any: numba types its calls by the typer's own
    arguments, which begin with the typing context)."""
    return intrinsic(typer)


def _intp(context: Any, builder: Any, numba_type: Any, value: Any) -> Any:
    return context.cast(builder, value, numba_type, types.intp)


def _vectors_at(context: Any, builder: Any, array_type: Any, array: Any, row: Any, lanes: int) -> Any:
    """A pointer to a[row, 0] as <lanes x dtype>*: vector k holds a[row, k * lanes:(k + 1) * lanes]."""
    ary = context.make_array(array_type)(context, builder, array)
    first = cgutils.get_item_pointer(
        context, builder, array_type, ary, [row, ir.Constant(ir.IntType(64), 0)], wraparound=False
    )
    element = context.get_data_type(array_type.dtype)
    return builder.bitcast(first, ir.VectorType(element, lanes).as_pointer())


def _four_rows(builder: Any, together: Any, add_blocks: Any) -> None:
    """Emit add_blocks(rows) for the four rows side by side when `together` (an i1) holds, else
    for one row after another (see _interleaved)."""
    with builder.if_else(together) as (side_by_side, in_turn):
        with side_by_side:
            add_blocks([0, 1, 2, 3])
        with in_turn:
            for q in range(4):
                add_blocks([q])


def _each_case(builder: Any, conditions: list[Any], emit: Any, chosen: tuple[bool, ...] = ()) -> None:
    """emit(*flags) under each combination of the i1 `conditions`, tested once, outside the loop
    emit makes: a loop of its own per case (a test inside a loop keeps LLVM from vectorizing it)."""
    if not conditions:
        emit(*chosen)
        return
    with builder.if_else(conditions[0]) as (yes, no):
        with yes:
            _each_case(builder, conditions[1:], emit, (*chosen, True))
        with no:
            _each_case(builder, conditions[1:], emit, (*chosen, False))


def _lanes_added(builder: Any, s: Any, zero: Any) -> Any:
    """einsum's lanes (a vector of 4 or 2) added pairwise, ((s0 + s1) + (s2 + s3)), onto its +0.0."""
    i32 = ir.IntType(32)
    each = [builder.extract_element(s, ir.Constant(i32, k)) for k in range(s.type.count)]
    if len(each) == 4:
        total = builder.fadd(builder.fadd(each[0], each[1]), builder.fadd(each[2], each[3]))
    else:
        total = builder.fadd(each[0], each[1])
    return builder.fadd(zero, total)


@_intrinsic
def _eight_lanes(
    typingctx: Any, a: Any, r0: Any, r1: Any, r2: Any, r3: Any, lo: Any, blocks: Any, interleave: Any
) -> Any:
    """For rows r0, r1, r2 and r3 of a, in turn, the eight values r_k = a[row, lo + k] + a[row,
    lo + 8 + k] + ... over `blocks` (>= 1) blocks of 8, added in that order: NumPy's pairwise
    leaf's eight accumulators as one vector per row; with `interleave`, the four rows' chains of
    additions side by side, else one row after another (see _interleaved)."""
    signature = types.UniTuple(a.dtype, 32)(a, r0, r1, r2, r3, lo, blocks, interleave)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        element = context.get_data_type(array_type.dtype)
        size = context.get_abi_sizeof(element)
        i32 = ir.IntType(32)
        first = _intp(context, builder, signature.args[5], args[5])
        starts = []
        for q in range(4):
            row = _intp(context, builder, signature.args[1 + q], args[1 + q])
            at_row = _vectors_at(context, builder, array_type, args[0], row, 8)
            at_first = builder.gep(builder.bitcast(at_row, element.as_pointer()), [first])
            starts.append(builder.bitcast(at_first, at_row.type))
        count = _intp(context, builder, signature.args[6], args[6])
        one = ir.Constant(count.type, 1)
        totals = [cgutils.alloca_once_value(builder, builder.load(start, align=size)) for start in starts]

        def add_blocks(rows: list[int]) -> None:
            with cgutils.for_range(builder, builder.sub(count, one)) as loop:
                k = builder.add(loop.index, one)
                for q in rows:
                    block = builder.load(builder.gep(starts[q], [k]), align=size)
                    builder.store(builder.fadd(builder.load(totals[q]), block), totals[q])

        _four_rows(builder, args[7], add_blocks)
        values = []
        for total in totals:
            lanes = builder.load(total)
            values += [builder.extract_element(lanes, ir.Constant(i32, k)) for k in range(8)]
        return context.make_tuple(builder, signature.return_type, values)

    return signature, codegen


@_intrinsic
def _einsum_dots(typingctx: Any, a: Any, b: Any, r0: Any, r1: Any, r2: Any, r3: Any, interleave: Any) -> Any:
    """np.einsum("ij,ij->i") of rows r0, r1, r2 and r3 of a and b (C-ordered, one dtype): its
    SIMD loop at NumPy's x86-64 baseline, 16-byte vectors (4 float32s or 2 float64s), each lane
    from +0.0; blocks of four vectors, each block's products added last to first onto the lanes
    (p0 + (p1 + (p2 + (p3 + s)))); then the rest a vector at a time, the last one zero-padded (a
    lane past the row's end adds +0.0: its index is clamped into the row and its product
    replaced); the lanes added pairwise ((s0 + s1) + (s2 + s3)), onto einsum's +0.0. With
    `interleave`, the four rows' chains of dependent additions side by side, else one row after
    another (see _interleaved)."""
    signature = types.UniTuple(a.dtype, 4)(a, b, r0, r1, r2, r3, interleave)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        a_type, b_type = signature.args[0], signature.args[1]
        element = context.get_data_type(a_type.dtype)
        size = context.get_abi_sizeof(element)
        lanes = 16 // size
        vector = ir.VectorType(element, lanes)
        i64, i32 = ir.IntType(64), ir.IntType(32)
        rows = [_intp(context, builder, signature.args[2 + q], args[2 + q]) for q in range(4)]
        n = builder.extract_value(context.make_array(a_type)(context, builder, args[0]).shape, 1)
        pa = [_vectors_at(context, builder, a_type, args[0], row, lanes) for row in rows]
        pb = [_vectors_at(context, builder, b_type, args[1], row, lanes) for row in rows]
        zero = ir.Constant(element, 0.0)
        zeros = ir.Constant(vector, [zero] * lanes)
        sums = [cgutils.alloca_once_value(builder, zeros) for _ in rows]
        blocks = builder.udiv(n, ir.Constant(i64, 4 * lanes))

        def add_blocks(rows: list[int]) -> None:
            with cgutils.for_range(builder, blocks) as loop:
                first = builder.mul(loop.index, ir.Constant(i64, 4))
                for q in rows:
                    s = builder.load(sums[q])
                    for m in (3, 2, 1, 0):
                        k = builder.add(first, ir.Constant(i64, m))
                        x = builder.load(builder.gep(pa[q], [k]), align=size)
                        y = builder.load(builder.gep(pb[q], [k]), align=size)
                        s = builder.fadd(builder.fmul(x, y), s)
                    builder.store(s, sums[q])

        _four_rows(builder, args[6], add_blocks)
        rest = builder.mul(blocks, ir.Constant(i64, 4 * lanes))
        last = builder.sub(n, ir.Constant(i64, 1))
        sa = [builder.bitcast(p, element.as_pointer()) for p in pa]
        sb = [builder.bitcast(p, element.as_pointer()) for p in pb]
        for v in range(4):  # up to four vectors remain (the last perhaps partly)
            start = builder.add(rest, ir.Constant(i64, v * lanes))
            used = builder.icmp_signed("<", start, n)
            for q in range(4):
                products = zeros
                for lane in range(lanes):
                    k = builder.add(start, ir.Constant(i64, lane))
                    inside = builder.icmp_signed("<", k, n)
                    safe = builder.select(inside, k, last)
                    x = builder.load(builder.gep(sa[q], [safe]), align=size)
                    y = builder.load(builder.gep(sb[q], [safe]), align=size)
                    product = builder.select(inside, builder.fmul(x, y), zero)
                    products = builder.insert_element(products, product, ir.Constant(i32, lane))
                s = builder.load(sums[q])
                builder.store(builder.select(used, builder.fadd(products, s), s), sums[q])
        results = [_lanes_added(builder, builder.load(sums[q]), zero) for q in range(4)]
        return context.make_tuple(builder, signature.return_type, results)

    return signature, codegen


class _Steps:
    """IR helpers of the intrinsics that walk rows UNIT values a step (_dots_sums_and_output,
    _forward_step): each step's values as two vectors of eight, einsum's 16-byte pieces of them,
    and the pairwise leaves' lanes carried from step to step."""

    def __init__(self, context: Any, builder: Any, array_type: Any) -> None:
        self.context, self.builder = context, builder
        self.element = context.get_data_type(array_type.dtype)
        self.size = context.get_abi_sizeof(self.element)
        self.lanes = 16 // self.size  # einsum's vectors: 16 bytes (4 float32s, 2 float64s)
        self.vector, self.eight = ir.VectorType(self.element, self.lanes), ir.VectorType(self.element, 8)
        self.i64, self.i32 = ir.IntType(64), ir.IntType(32)
        self.zero = ir.Constant(self.element, 0.0)

    def const(self, value: int) -> Any:
        return ir.Constant(self.i64, value)

    def row(self, array_type: Any, array: Any, row: Any) -> Any:
        """Row `row` (an i64) of a 2-D array as vectors of eight."""
        return _vectors_at(self.context, self.builder, array_type, array, row, 8)

    def vector_data(self, array_type: Any, array: Any) -> Any:
        """A contiguous 1-D array's data as vectors of eight."""
        data = self.context.make_array(array_type)(self.context, self.builder, array).data
        return self.builder.bitcast(data, self.eight.as_pointer())

    def load(self, pointer: Any, at: Any) -> Any:
        return self.builder.load(self.builder.gep(pointer, [at]), align=self.size)

    def store(self, value: Any, pointer: Any, at: Any) -> None:
        self.builder.store(value, self.builder.gep(pointer, [at]), align=self.size)

    def splat(self, value: Any) -> Any:
        b, i32 = self.builder, self.i32
        v = b.insert_element(ir.Constant(self.eight, ir.Undefined), value, ir.Constant(i32, 0))
        return b.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, 8), [0] * 8))

    def pieces(self, v8: Any) -> list[Any]:
        """A vector of eight as einsum's vectors of `lanes`, in order."""
        mask = ir.VectorType(self.i32, self.lanes)
        return [
            self.builder.shuffle_vector(v8, v8, ir.Constant(mask, list(range(q, q + self.lanes))))
            for q in range(0, 8, self.lanes)
        ]

    def einsum_step(self, s: Any, a: list[Any], b: list[Any]) -> Any:
        """s plus a step's products a * b (vectors of eight): einsum's blocks of four vectors of
        `lanes`, each added last to first (p0 + (p1 + (p2 + (p3 + s))))."""
        pa = [p for v in a for p in self.pieces(v)]
        pb = [p for v in b for p in self.pieces(v)]
        for block in range(0, len(pa), 4):
            for k in (3, 2, 1, 0):
                s = self.builder.fadd(self.builder.fmul(pa[block + k], pb[block + k]), s)
        return s

    def einsum_total(self, s: Any) -> Any:
        return _lanes_added(self.builder, s, self.zero)

    def leaves(self, step: Any, values: list[Any], state: tuple[Any, Any, Any], ends: Any, sums: Any) -> None:
        """Add a step's two vectors of eight to the current pairwise leaf's lanes (its first
        eight values start them), and at the leaf's end (ends[leaf], in steps) store its lanes
        added as a tree in sums[leaf] and go on to the next leaf. state: allocas of the lanes,
        the leaf and its first step."""
        b = self.builder
        lanes, leaf, leaf_start = state
        v0, v1 = values
        starts = b.icmp_unsigned("==", step, b.load(leaf_start))
        acc = b.fadd(b.select(starts, v0, b.fadd(b.load(lanes), v0)), v1)
        b.store(acc, lanes)
        k = b.load(leaf)
        next_step = b.add(step, self.const(1))
        with b.if_then(b.icmp_unsigned("==", next_step, b.load(b.gep(ends, [k])))):
            each = [b.extract_element(acc, ir.Constant(self.i32, j)) for j in range(8)]
            left = b.fadd(b.fadd(each[0], each[1]), b.fadd(each[2], each[3]))
            right = b.fadd(b.fadd(each[4], each[5]), b.fadd(each[6], each[7]))
            b.store(b.fadd(left, right), b.gep(sums, [k]))
            b.store(b.add(k, self.const(1)), leaf)
            b.store(next_step, leaf_start)

    def leaf_state(self) -> tuple[Any, Any, Any]:
        b = self.builder
        return (
            cgutils.alloca_once_value(b, ir.Constant(self.eight, [self.zero] * 8)),
            cgutils.alloca_once_value(b, self.const(0)),
            cgutils.alloca_once_value(b, self.const(0)),
        )

    def steps(self, array_type: Any, array: Any) -> Any:
        """The rows' width in steps (a multiple of UNIT)."""
        shape = self.context.make_array(array_type)(self.context, self.builder, array).shape
        return self.builder.udiv(self.builder.extract_value(shape, 1), self.const(UNIT))


UNIT = 16  # values a step of _forward_step and _dots_sums_and_output: an einsum block (float32; two,
# float64), two vectors of a leaf's eight lanes


@_intrinsic
def _dots_sums_and_output(
    typingctx: Any, g: Any, src: Any, row: Any, ends: Any, leaf_sums: Any, out: Any, prev: Any,
    m: Any, along: Any, r: Any, gamma: Any, gg: Any, bg: Any, scaled: Any, parameters: Any,
    plain: Any, centred: Any, src_shift: Any, src_scale: Any, prev_shift: Any, prev_scale: Any,
) -> Any:  # fmt: skip
    """One pass over row `row` of g and src, UNIT values a step, doing at once what the row
    backward needs of it, with x-hat = (src - src_shift) * src_scale (prev_shift and prev_scale
    for the row before), or src itself when `plain`, and d = g, or g * gamma when `scaled` (made
    again for the row before's output: a product is cheaper than storing d and reading it back):
    einsum's sum of d * x-hat over the row (as _einsum_dots: returned); NumPy's pairwise leaves of
    d's row (each leaf's eight lanes from its first eight values, added as a tree into
    leaf_sums[leaf], when `centred`; leaf k ends before step ends[k]: leaves start and end at
    whole steps); with `parameters`, gg += g * x-hat and bg += g; and, when prev >= 0, the output
    of the row before: out[prev] = ((d[prev] - m) - x-hat[prev] * along) * r. The width is a
    multiple of UNIT.
    Separate loops waited on each chain of additions in turn; here the chains and the elementwise
    work share one loop over one stream of each array."""
    signature = g.dtype(
        g, src, row, ends, leaf_sums, out, prev, m, along, r, gamma, gg, bg, scaled, parameters,
        plain, centred, src_shift, src_scale, prev_shift, prev_scale,
    )  # fmt: skip

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        g_type, x_type, _, ends_type, sums_type, out_type = signature.args[:6]
        h = _Steps(context, builder, g_type)
        this = _intp(context, builder, signature.args[2], args[2])
        before = _intp(context, builder, signature.args[6], args[6])
        steps = h.steps(g_type, args[0])
        pg, px = h.row(g_type, args[0], this), h.row(x_type, args[1], this)
        p_gamma, p_gg, p_bg = (h.vector_data(signature.args[k], args[k]) for k in (10, 11, 12))
        ends_at = context.make_array(ends_type)(context, builder, args[3]).data
        sums_at = context.make_array(sums_type)(context, builder, args[4]).data
        dot = cgutils.alloca_once_value(builder, ir.Constant(h.vector, [h.zero] * h.lanes))
        leaf_state = h.leaf_state()
        shift_v, scale_v, prev_shift_v, prev_scale_v = (h.splat(args[k]) for k in (17, 18, 19, 20))

        def xhat(at: Any, shift: Any, scale: Any, plain: bool) -> Any:
            return at if plain else builder.fmul(builder.fsub(at, shift), scale)

        def steps_loop(output: bool, scaled: bool, parameters: bool, plain: bool, centred: bool) -> None:
            if output:
                pp = h.row(g_type, args[0], before)  # g; d = g * gamma made again when scaled
                pxp, po = h.row(x_type, args[1], before), h.row(out_type, args[5], before)
                mv, av, rv = h.splat(args[7]), h.splat(args[8]), h.splat(args[9])
            with cgutils.for_range(builder, steps) as loop:
                pair = builder.mul(loop.index, h.const(2))
                at = [pair, builder.add(pair, h.const(1))]  # the step's two vectors of eight
                ds, xs = [], []
                for k in at:
                    gv = h.load(pg, k)
                    xv = xhat(h.load(px, k), shift_v, scale_v, plain)
                    dv = gv
                    if scaled:
                        dv = builder.fmul(gv, h.load(p_gamma, k))
                    if parameters:
                        h.store(builder.fadd(builder.fmul(gv, xv), h.load(p_gg, k)), p_gg, k)
                        h.store(builder.fadd(gv, h.load(p_bg, k)), p_bg, k)
                    ds.append(dv)
                    xs.append(xv)
                builder.store(h.einsum_step(builder.load(dot), ds, xs), dot)
                if centred:
                    h.leaves(loop.index, ds, leaf_state, ends_at, sums_at)
                if output:
                    for k in at:
                        dv = h.load(pp, k)
                        dv = builder.fmul(dv, h.load(p_gamma, k)) if scaled else dv
                        xv = xhat(h.load(pxp, k), prev_shift_v, prev_scale_v, plain)
                        value = builder.fmul(builder.fsub(builder.fsub(dv, mv), builder.fmul(xv, av)), rv)
                        h.store(value, po, k)

        has_output = builder.icmp_signed(">=", before, h.const(0))
        flags = [context.is_true(builder, signature.args[k], args[k]) for k in (13, 14, 15, 16)]
        _each_case(builder, [has_output, *flags], steps_loop)
        return h.einsum_total(builder.load(dot))

    return signature, codegen


@_intrinsic
def _forward_step(
    typingctx: Any, x: Any, a: Any, b: Any, c: Any, ends: Any, leaf_sums: Any, m_b: Any, m_c: Any,
    r_c: Any, gamma: Any, beta: Any, y: Any, centred: Any, scale: Any, shift: Any,
) -> Any:  # fmt: skip
    """A step of the row forward's pipeline of three rows, in one pass over each (UNIT values a
    step): with `centred`, NumPy's pairwise leaves of x[a] (into leaf_sums, as
    _dots_sums_and_output); einsum's sum of (x[b] - m_b) squared (returned: row b's mean is
    known, its variance is made); and row c's output (its mean and inverse std known): y[c] =
    x-hat[c] = (x[c] - m_c) * r_c, or with `scale` x-hat[c] * gamma (+ beta with `shift`). RMSNorm
    passes zero means (x - 0.0 is x, bit for bit). The three chains of additions and the
    elementwise work overlap; the forward's loops took each row's sum, squares and output in turn."""
    signature = x.dtype(x, a, b, c, ends, leaf_sums, m_b, m_c, r_c, gamma, beta, y, centred, scale, shift)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        x_type = signature.args[0]
        h = _Steps(context, builder, x_type)
        row_a, row_b, row_c = (_intp(context, builder, signature.args[k], args[k]) for k in (1, 2, 3))
        steps = h.steps(x_type, args[0])
        pa, pb, pc = (h.row(x_type, args[0], r) for r in (row_a, row_b, row_c))
        p_y = h.row(signature.args[11], args[11], row_c)
        p_gamma, p_beta = (
            h.vector_data(signature.args[9], args[9]),
            h.vector_data(signature.args[10], args[10]),
        )
        ends_at = context.make_array(signature.args[4])(context, builder, args[4]).data
        sums_at = context.make_array(signature.args[5])(context, builder, args[5]).data
        mb, mc, rc = h.splat(args[6]), h.splat(args[7]), h.splat(args[8])
        dot = cgutils.alloca_once_value(builder, ir.Constant(h.vector, [h.zero] * h.lanes))
        leaf_state = h.leaf_state()

        def steps_loop(centred: bool, scale: bool, shift: bool) -> None:
            with cgutils.for_range(builder, steps) as loop:
                pair = builder.mul(loop.index, h.const(2))
                at = [pair, builder.add(pair, h.const(1))]  # the step's two vectors of eight
                if centred:
                    h.leaves(loop.index, [h.load(pa, k) for k in at], leaf_state, ends_at, sums_at)
                centred_b = [builder.fsub(h.load(pb, k), mb) for k in at]
                builder.store(h.einsum_step(builder.load(dot), centred_b, centred_b), dot)
                for k in at:
                    t = builder.fmul(builder.fsub(h.load(pc, k), mc), rc)
                    if scale:
                        t = builder.fmul(t, h.load(p_gamma, k))
                        t = builder.fadd(t, h.load(p_beta, k)) if shift else t
                    h.store(t, p_y, k)

        flags = [context.is_true(builder, signature.args[k], args[k]) for k in (12, 13, 14)]
        _each_case(builder, flags, steps_loop)
        return h.einsum_total(builder.load(dot))

    return signature, codegen


@kernel
def _step_plan(w: int) -> Any:
    """ends[k]: the step (UNIT values) before which leaf k of a row of width w ends, for
    _dots_sums_and_output, or an empty array where a leaf starts or ends inside a step."""
    plan = _pairwise_plan(w)
    ends = np.empty(plan.shape[0], np.int64)
    if w % UNIT:
        return ends[:0]
    for k in range(plan.shape[0]):
        if plan[k, 0] % UNIT or plan[k, 1] % UNIT:
            return ends[:0]
        ends[k] = (plan[k, 0] + plan[k, 1]) // UNIT
    return ends


@kernel
def _leaves_added(plan: Any, leaf_sums: Any, partial: Any) -> Any:
    """The row sum from its leaves' sums, added as the plan says (as _row_sums does)."""
    top = 0
    for leaf in range(plan.shape[0]):
        s = leaf_sums[leaf]
        for _ in range(plan[leaf, 2]):
            top -= 1
            s = partial[top] + s
        partial[top] = s
        top += 1
    return partial[0]


# The row helpers take a 2-D array and row indices, not rows (a view made in a loop costs its
# reference counting each time: ~0.5 of a pass at 1000 x 100), and rows of up to 128 values
# call the pairwise sum's leaves directly (a call to _row_sums that LLVM does not inline costs
# ~15 ns a call: 0.3 of a pass at 1000 x 100).
@kernel
def _short_sum(a: Any, row: int, lo: int, n: int) -> Any:
    """NumPy's pairwise_sum of a[row, lo:lo + n] for n < 8: one value after another."""
    res = a[row, lo]  # NumPy starts at -0.0, which a[lo] + ... equals bit for bit
    for i in range(1, n):
        res += a[row, lo + i]
    return res


@kernel
def _leaf_end(a: Any, row: int, lanes: Any, q: int, i: int, stop: int) -> Any:
    """The end of a pairwise leaf: row q's eight accumulators (lanes[8q:8q + 8]) added as a tree,
    then a[row, i:stop] one by one."""
    k = 8 * q
    res = ((lanes[k] + lanes[k + 1]) + (lanes[k + 2] + lanes[k + 3])) + (
        (lanes[k + 4] + lanes[k + 5]) + (lanes[k + 6] + lanes[k + 7])
    )
    while i < stop:
        res += a[row, i]
        i += 1
    return res


@kernel
def _pairwise_leaves(a: Any, r0: int, r1: int, r2: int, r3: int, lo: int, n: int, interleave: bool) -> Any:
    """NumPy's pairwise_sum of a[row, lo:lo + n] (n <= 128) for the four rows: below 8 values
    one after another, otherwise eight accumulators over strides of 8 (one vector), added as a
    tree, then the rest one by one."""
    if n < 8:
        return (
            _short_sum(a, r0, lo, n),
            _short_sum(a, r1, lo, n),
            _short_sum(a, r2, lo, n),
            _short_sum(a, r3, lo, n),
        )
    lanes = _eight_lanes(a, r0, r1, r2, r3, lo, n // 8, interleave)
    i, stop = lo + n - n % 8, lo + n
    return (
        _leaf_end(a, r0, lanes, 0, i, stop),
        _leaf_end(a, r1, lanes, 1, i, stop),
        _leaf_end(a, r2, lanes, 2, i, stop),
        _leaf_end(a, r3, lanes, 3, i, stop),
    )


@kernel
def _interleaved(a: Any) -> bool:
    """Whether the row kernels read their four rows side by side (several chains of additions
    at once) or one after another (one stream at a time). Side by side is faster where the
    layer comes from cache (1000 x 512 float32, LayerNorm's backward at init: 0.75 of a pass
    against 1.07), one after another where it comes from memory (4096 x 512: 0.94 against 1.63,
    the hardware's prefetching following one stream per page better than four)."""
    together: bool = a.size * a.itemsize <= INTERLEAVE_BYTES
    return together


@kernel
def _pairwise_plan(n: int) -> Any:
    """NumPy's pairwise sum of n values as a plan every row of that width follows: its leaves in
    order, rows of (start, count, additions after it). Past 128 values NumPy sums the two halves
    (split at a multiple of 8) alike and adds them, first + second; once a leaf is summed, each
    subtree it completes adds its left partial sum to the right one. Built without recursion (a
    stack of (start, count, halves done): numba's disk cache breaks recursive kernels), once per
    layer, so a row's sum is a loop over its leaves with no stack to walk."""
    plan = np.zeros((max(1, n // 32), 3), np.int64)  # (leaves hold 64 values or more)
    stack = np.empty((64, 3), np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2] = 0, n, 0
    top, leaves = 1, 0
    while top > 0:
        lo, m, done = stack[top - 1, 0], stack[top - 1, 1], stack[top - 1, 2]
        if m <= 128:
            plan[leaves, 0], plan[leaves, 1] = lo, m
            leaves += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if done == 2:  # both halves summed: add them (first + second, as NumPy)
            plan[leaves - 1, 2] += 1
            top -= 1
            continue
        stack[top - 1, 2] = done + 1
        stack[top, 0] = lo if done == 0 else lo + half
        stack[top, 1] = half if done == 0 else m - half
        stack[top, 2] = 0
        top += 1
    return plan[:leaves]


@kernel
def _row_sums(a: Any, r0: int, r1: int, r2: int, r3: int, plan: Any, partial: Any, interleave: bool) -> Any:
    """NumPy's pairwise sums of the four rows (np.add.reduce adds them to +0.0) past 128 values,
    by the plan of the rows' width (_pairwise_plan): each leaf's sums, then as many of the partial
    sums held before it added onto them, left + right (partial: scratch of (64, 4), a row for each
    level of the tree: enough for any width; the kernels past MAX_UNITS are never called)."""
    top = 0
    for leaf in range(plan.shape[0]):
        s0, s1, s2, s3 = _pairwise_leaves(a, r0, r1, r2, r3, plan[leaf, 0], plan[leaf, 1], interleave)
        for _ in range(plan[leaf, 2]):
            top -= 1
            s0, s1 = partial[top, 0] + s0, partial[top, 1] + s1
            s2, s3 = partial[top, 2] + s2, partial[top, 3] + s3
        partial[top, 0], partial[top, 1], partial[top, 2], partial[top, 3] = s0, s1, s2, s3
        top += 1
    return partial[0, 0], partial[0, 1], partial[0, 2], partial[0, 3]


@kernel
def batch_forward(x: Any, gamma: Any, beta: Any, scale: bool, shift: bool, y: Any) -> Any:
    """BatchNorm's forward over a C-ordered (n, w) x: returns (mean, var, inv) per unit and writes
    y = x-hat = (x - mean) * inv, or with `scale` y = x-hat * gamma (+ beta with `shift`; x-hat
    itself is not kept: a backward makes it again from x, mean and inv, the same bits). Three
    reads of x: its sums, its squares around the mean, the output. (Each flag picks a loop of its
    own: a test inside a loop kept LLVM from vectorizing it. No helper takes an array inside a
    loop: each call counts its references.)"""
    n, w = x.shape
    nf = x.dtype.type(n)
    # The column sums take four rows a loop up to INTERLEAVE_BYTES (each column's running sum in a
    # register across them: a quarter of the loads and stores of the sums; same order).
    four = n - n % 4 if x.size * x.itemsize <= INTERLEAVE_BYTES else 0
    total = np.zeros(w, x.dtype)
    for i in range(0, four, 4):
        for j in range(w):
            total[j] = x[i + 3, j] + (x[i + 2, j] + (x[i + 1, j] + (x[i, j] + total[j])))
    for i in range(four, n):
        for j in range(w):
            total[j] = x[i, j] + total[j]
    mean = total / nf
    squares = np.zeros(w, x.dtype)
    for i in range(0, four, 4):
        for j in range(w):
            m, s = mean[j], squares[j]
            d0, d1, d2, d3 = x[i, j] - m, x[i + 1, j] - m, x[i + 2, j] - m, x[i + 3, j] - m
            squares[j] = d3 * d3 + (d2 * d2 + (d1 * d1 + (d0 * d0 + s)))
    for i in range(four, n):
        for j in range(w):
            d = x[i, j] - mean[j]
            squares[j] = d * d + squares[j]
    var = squares / nf
    inv = x.dtype.type(1.0) / np.sqrt(var + x.dtype.type(EPS))
    for i in range(n):
        if scale and shift:
            for j in range(w):
                y[i, j] = ((x[i, j] - mean[j]) * inv[j]) * gamma[j] + beta[j]
        elif scale:
            for j in range(w):
                y[i, j] = ((x[i, j] - mean[j]) * inv[j]) * gamma[j]
        else:
            for j in range(w):
                y[i, j] = (x[i, j] - mean[j]) * inv[j]
    return mean, var, inv


@kernel
def moved_averages(running: Any, batch: Any, momentum: Any, rest: Any) -> Any:
    """momentum * running + rest * batch, a new array: NumPy's steps for the moving averages
    (each product rounded to the dtype, then their sum), in one loop instead of four ufuncs and
    their temporaries. momentum and rest come in as values of the arrays' dtype."""
    out = np.empty_like(running)
    for j in range(running.size):
        out[j] = momentum * running[j] + rest * batch[j]
    return out


@kernel
def row_forward(
    x: Any, gamma: Any, beta: Any, centred: bool, scale: bool, shift: bool, xhat: Any, y: Any, means: Any
) -> Any:
    """LayerNorm's (centred) or RMSNorm's forward, a row at a time while it is in cache: returns
    inv per sample, writes each sample's mean into `means` (0 for RMSNorm) and y = x-hat, or with
    `scale` y = x-hat * gamma (+ beta with `shift`), as batch_forward. Where the width is taken
    in steps (in_steps) x-hat is not written (a backward makes it again from x, the means and
    inv, the same bits); otherwise also into `xhat` (which may be y's array: y is written last).
    One read of x."""
    n, w = x.shape
    nf = x.dtype.type(w)
    zero, eps, one = x.dtype.type(0), x.dtype.type(EPS), x.dtype.type(1.0)
    inv = np.empty(n, x.dtype)
    plan = _pairwise_plan(w)
    ends = _step_plan(w)
    if ends.size:
        _row_forward_in_steps(x, gamma, beta, centred, scale, shift, y, plan, ends, inv, means)
        return inv
    partial = np.empty((64, 4), x.dtype)  # the row sums' (any width)
    together = _interleaved(x)
    for i in range(0, n, 4):  # four rows at a time, for _einsum_dots
        last = min(i + 4, n)
        r1, r2, r3 = min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)  # (the last again)
        if centred:
            if w <= 128:
                sums = _pairwise_leaves(x, i, r1, r2, r3, 0, w, together)
            else:
                sums = _row_sums(x, i, r1, r2, r3, plan, partial, together)
            for row in range(i, last):
                m = (zero + sums[row - i]) / nf
                means[row] = m
                for j in range(w):
                    xhat[row, j] = x[row, j] - m
            q = _einsum_dots(xhat, xhat, i, r1, r2, r3, together)
        else:
            for row in range(i, last):
                means[row] = zero
            q = _einsum_dots(x, x, i, r1, r2, r3, together)
        for row in range(i, last):  # x-hat = (x - mean or x) * inv, and y from it in the same loop
            r = one / np.sqrt(q[row - i] / nf + eps)
            inv[row] = r
            if centred and scale and shift:
                for j in range(w):
                    t = xhat[row, j] * r
                    xhat[row, j] = t
                    y[row, j] = t * gamma[j] + beta[j]
            elif centred and scale:
                for j in range(w):
                    t = xhat[row, j] * r
                    xhat[row, j] = t
                    y[row, j] = t * gamma[j]
            elif centred:
                for j in range(w):
                    xhat[row, j] *= r
            elif scale and shift:
                for j in range(w):
                    t = x[row, j] * r
                    xhat[row, j] = t
                    y[row, j] = t * gamma[j] + beta[j]
            elif scale:
                for j in range(w):
                    t = x[row, j] * r
                    xhat[row, j] = t
                    y[row, j] = t * gamma[j]
            else:
                for j in range(w):
                    xhat[row, j] = x[row, j] * r
    return inv


@kernel
def _row_forward_in_steps(
    x: Any, gamma: Any, beta: Any, centred: bool, scale: bool, shift: bool, y: Any,
    plan: Any, ends: Any, inv: Any, means: Any,
) -> None:  # fmt: skip
    """row_forward where each leaf of a row's pairwise sum spans whole steps (_step_plan): step t
    of the pipeline sums row t, squares row t - 1 around its mean and writes row t - 2
    (_forward_step). The first two steps and the last two run the stages they lack on rows in
    range, their results unused: the sums of the last row again, the squares of row 0, and an
    output of row 0 that step 2 writes over (y is written, never read)."""
    n, w = x.shape
    nf = x.dtype.type(w)
    zero, eps, one = x.dtype.type(0), x.dtype.type(EPS), x.dtype.type(1.0)
    leaf_sums, partial = np.empty(ends.size, x.dtype), np.empty(64, x.dtype)
    m_b, m_c, r_c = zero, zero, zero  # row t - 1's mean; row t - 2's mean and inverse std
    for t in range(n + 2 if n else 0):
        a, b, c = min(t, n - 1), min(max(t - 1, 0), n - 1), max(t - 2, 0)
        q = _forward_step(x, a, b, c, ends, leaf_sums, m_b, m_c, r_c, gamma, beta, y, centred, scale, shift)
        r = one / np.sqrt(q / nf + eps)
        if 1 <= t <= n:
            inv[b] = r
        m_c, r_c = m_b, r
        m_b = (zero + _leaves_added(plan, leaf_sums, partial)) / nf if centred and t < n else zero
        if t < n:
            means[t] = m_b


@kernel
def batch_backward(
    g: Any, src: Any, shift: Any, scale: Any, plain: bool, inv: Any, gamma: Any, unscaled: bool,
    parameters: bool, out: Any,
) -> Any:  # fmt: skip
    """BatchNorm's dx (into out) and, with `parameters` (or unscaled: dx is made of them), the
    sums over the batch of g * x-hat and g (gamma's and beta's gradients), returned. x-hat is
    (src - shift) * scale per unit, the forward's x, mean and inv (the same bits as the x-hat it
    computed), or, `plain`, src itself. With d = g times gamma: dx = ((d - mean(d)) - x-hat *
    mean(d * x-hat)) * inv. Two reads of g and src, a row a loop (src comes from memory: four rows
    a loop read it as four streams, 1.35 passes at 1000 x 512 in blocks_bench against 1.08)."""
    n, w = g.shape
    nf = g.dtype.type(n)
    gg = np.zeros(w, g.dtype)
    bg = np.zeros(w, g.dtype)
    along = np.zeros(w, g.dtype)
    mean = np.zeros(w, g.dtype)
    # (Each case a loop of its own, `plain` too: a test inside them kept LLVM from vectorizing.)
    for i in range(n):
        if unscaled and plain:  # d is g: its sums are the parameters' gradients
            for j in range(w):
                gg[j] = g[i, j] * src[i, j] + gg[j]
                bg[j] = g[i, j] + bg[j]
        elif unscaled:
            for j in range(w):
                gg[j] = g[i, j] * ((src[i, j] - shift[j]) * scale[j]) + gg[j]
                bg[j] = g[i, j] + bg[j]
        elif parameters and plain:
            for j in range(w):
                gg[j] = g[i, j] * src[i, j] + gg[j]
                bg[j] = g[i, j] + bg[j]
                d = g[i, j] * gamma[j]
                along[j] = d * src[i, j] + along[j]
                mean[j] = d + mean[j]
        elif parameters:
            for j in range(w):
                xh = (src[i, j] - shift[j]) * scale[j]
                gg[j] = g[i, j] * xh + gg[j]
                bg[j] = g[i, j] + bg[j]
                d = g[i, j] * gamma[j]
                along[j] = d * xh + along[j]
                mean[j] = d + mean[j]
        elif plain:
            for j in range(w):
                d = g[i, j] * gamma[j]
                along[j] = d * src[i, j] + along[j]
                mean[j] = d + mean[j]
        else:
            for j in range(w):
                d = g[i, j] * gamma[j]
                along[j] = d * ((src[i, j] - shift[j]) * scale[j]) + along[j]
                mean[j] = d + mean[j]
    if unscaled:
        along = gg / nf
        mean = bg / nf
    else:
        along = along / nf
        mean = mean / nf
    for i in range(n):
        if unscaled and plain:
            for j in range(w):
                out[i, j] = ((g[i, j] - mean[j]) - src[i, j] * along[j]) * inv[j]
        elif unscaled:
            for j in range(w):
                xh = (src[i, j] - shift[j]) * scale[j]
                out[i, j] = ((g[i, j] - mean[j]) - xh * along[j]) * inv[j]
        elif plain:
            for j in range(w):
                out[i, j] = ((g[i, j] * gamma[j] - mean[j]) - src[i, j] * along[j]) * inv[j]
        else:
            for j in range(w):
                xh = (src[i, j] - shift[j]) * scale[j]
                out[i, j] = ((g[i, j] * gamma[j] - mean[j]) - xh * along[j]) * inv[j]
    return gg, bg


@kernel
def row_backward(
    g: Any, src: Any, shift: Any, scale: Any, plain: bool, inv: Any, gamma: Any, centred: bool,
    unscaled: bool, parameters: bool, out: Any,
) -> Any:  # fmt: skip
    """LayerNorm's (centred) or RMSNorm's dx (into out), a row at a time, and with `parameters`
    the sums over the batch of g * x-hat and g, returned. x-hat is (src - shift) * scale per
    sample: the forward's x, means and inv (the same bits as the x-hat it computed), or, `plain`,
    x-hat itself (shift 0 and scale 1). dx = ((d - mean(d)) - x-hat * mean(d * x-hat)) * inv per
    sample (RMSNorm without mean(d)), d = g times gamma (at widths not taken in steps held in out's
    row until it is replaced). One read of g and src."""
    n, w = g.shape
    nf = g.dtype.type(w)
    gg = np.zeros(w, g.dtype)
    bg = np.zeros(w, g.dtype)
    plan = _pairwise_plan(w)
    ends = _step_plan(w)
    if ends.size:
        _row_backward_in_steps(
            g, src, shift, scale, plain, inv, gamma, centred, unscaled, parameters, out, plan, ends, gg, bg
        )
        return gg, bg
    partial = np.empty((64, 4), g.dtype)  # the row sums' (any width)
    xhat = src
    if not plain:  # (the layers keep x-hat itself at these widths: in_steps)
        xhat = np.empty_like(src)
        for row in range(n):
            for j in range(w):
                xhat[row, j] = (src[row, j] - shift[row]) * scale[row]
    # Rows one after another (_einsum_dots and the sums not interleaved): x-hat was kept by the
    # forward pass and has usually left the cache (four rows side by side, LayerNorm's backward at
    # init took 2.20 passes at 1000 x 512 in blocks_bench, one after another 1.27).
    zero = g.dtype.type(0)
    for i in range(0, n, 4):  # four rows at a time, for _einsum_dots
        last = min(i + 4, n)
        r1, r2, r3 = min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)  # (the last again)
        for row in range(i, last):
            if parameters and unscaled:
                for j in range(w):
                    gg[j] = g[row, j] * xhat[row, j] + gg[j]
                    bg[j] = g[row, j] + bg[j]
            elif parameters:  # the parameters' sums and d = g * gamma in one loop
                for j in range(w):
                    gg[j] = g[row, j] * xhat[row, j] + gg[j]
                    bg[j] = g[row, j] + bg[j]
                    out[row, j] = g[row, j] * gamma[j]
            elif not unscaled:
                for j in range(w):
                    out[row, j] = g[row, j] * gamma[j]
        d = g if unscaled else out  # (d, g times gamma, is in out's rows)
        a = _einsum_dots(d, xhat, i, r1, r2, r3, False)
        sums = a  # d's row sums, when centred
        if centred and w <= 128:
            sums = _pairwise_leaves(d, i, r1, r2, r3, 0, w, False)
        elif centred:
            sums = _row_sums(d, i, r1, r2, r3, plan, partial, False)
        for row in range(i, last):
            along = a[row - i] / nf
            r = inv[row]
            m = (zero + sums[row - i]) / nf
            if unscaled and centred:
                for j in range(w):
                    out[row, j] = ((g[row, j] - m) - xhat[row, j] * along) * r
            elif unscaled:
                for j in range(w):
                    out[row, j] = (g[row, j] - xhat[row, j] * along) * r
            elif centred:  # d (g * gamma) is in out's row
                for j in range(w):
                    out[row, j] = ((out[row, j] - m) - xhat[row, j] * along) * r
            else:
                for j in range(w):
                    out[row, j] = (out[row, j] - xhat[row, j] * along) * r
    return gg, bg


@kernel
def _row_backward_in_steps(
    g: Any, src: Any, shift: Any, scale: Any, plain: bool, inv: Any, gamma: Any, centred: bool,
    unscaled: bool, parameters: bool, out: Any, plan: Any, ends: Any, gg: Any, bg: Any,
) -> None:  # fmt: skip
    """row_backward where each leaf of a row's pairwise sum spans whole steps (_step_plan): a row
    at a time, its sums (_dots_sums_and_output) beside the output of the row before."""
    n, w = g.shape
    nf = g.dtype.type(w)
    zero = g.dtype.type(0)
    leaf_sums, partial = np.empty(ends.size, g.dtype), np.empty(64, g.dtype)
    prev, m, along, r = -1, zero, zero, zero
    for row in range(n):
        before = max(prev, 0)
        dot = _dots_sums_and_output(
            g, src, row, ends, leaf_sums, out, prev, m, along, r, gamma, gg, bg, not unscaled, parameters,
            plain, centred, shift[row], scale[row], shift[before], scale[before],
        )  # fmt: skip
        # RMSNorm's d - 0.0 is d, bit for bit (-0.0 and NaN too): one formula for both norms
        m = (zero + _leaves_added(plan, leaf_sums, partial)) / nf if centred else zero
        prev, along, r = row, dot / nf, inv[row]
    if prev >= 0:
        for j in range(w):
            xh = src[prev, j] if plain else (src[prev, j] - shift[prev]) * scale[prev]
            d = g[prev, j] if unscaled else g[prev, j] * gamma[j]
            out[prev, j] = ((d - m) - xh * along) * r


def fits(*arrays: Array) -> bool:
    """The kernels' layout: C-ordered float32 or float64 arrays of one dtype, the first 2-D with 2
    to MAX_UNITS columns, the vectors (scale, shift, moving averages) as long as its rows (one
    column and wider rows are summed in other orders by NumPy; vectors are read as contiguous
    memory; other layouts, lengths and mixed dtypes keep norm.py's NumPy steps)."""
    first = arrays[0]
    dtype = first.dtype
    if first.ndim != 2 or not 2 <= first.shape[1] <= MAX_UNITS or dtype not in _FLOATS:
        return False
    width = first.shape[1]  # (a vector of another length: NumPy's steps refuse to broadcast it)
    return all(a.dtype == dtype and a.flags.c_contiguous and (a.ndim != 1 or a.size == width) for a in arrays)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # (dtypes: ~0.4 us less a layer than types)


@functools.lru_cache(maxsize=256)
def in_steps(width: int) -> bool:
    """Whether the row kernels take rows of this width in steps (_step_plan): then the forward
    writes no x-hat, which a backward makes again from x, the means and inv."""
    return bool(_step_plan(width).size)


def warm_up() -> None:
    """Compile (or load) every kernel for float32 and float64 layers, with each flag's values."""
    for dtype in (np.float32, np.float64):
        x = np.arange(6, dtype=dtype).reshape(3, 2)
        p = np.ones(2, dtype)
        rows = np.ones(3, dtype)
        for flag in (False, True):
            out = np.empty_like(x)
            mean, _, inv = batch_forward(x, p, p, flag, flag, out)
            inv_rows = row_forward(x, p, p, flag, flag, flag, out, out, rows)
            batch_backward(x, x, mean, inv, flag, inv, p, flag, flag, np.empty_like(x))
            moved_averages(p, p, dtype(0.9), dtype(0.1))
            row_backward(x, x, rows, inv_rows, flag, inv_rows, p, flag, flag, flag, np.empty_like(x))
