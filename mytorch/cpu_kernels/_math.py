"""Scalar float32 math that compiles to SIMD code.

numba turns math.tanh / math.erf / math.exp into one libm call per element (~5-15 ns each); these
rational and polynomial forms are plain arithmetic, which LLVM vectorizes. Accuracy, checked over every
float32 grid of 2M points in tests/test_cpu_kernels.py: tanh and erf within 5e-7 absolute, exp within 1.5 ulp.

Reductions are written in the shapes LLVM's loop vectorizer recognises on every x86 target we met: sums
over blocks of a constant length (a block loop bounded by min(b + BLOCK, n) stayed scalar on some CPUs),
maxima as a chain of llvm.maxnum calls (a compare-and-select chain, or sixteen lanes in a small array,
did not vectorize there either).
"""
import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

f32 = np.float32
# LLVM may contract a * b + c into one FMA and skip signed-zero / NaN-payload care, but not reassociate:
# GELU's derivative relies on 1 - tanh^2 being exactly 0 where tanh is +-1
FAST = {"nsz", "arcp", "contract", "afn"}
# reductions (row sums, maxima) vectorize only when LLVM may reassociate them
REDUCE = FAST | {"reassoc"}
f64 = np.float64
_jit = nb.njit(inline="always", fastmath=FAST, error_model="numpy", cache=True)


@intrinsic
def _int_bits_as_f32(typingctx, i):
    """The float32 whose bit pattern is the int32 i (no conversion: a bitcast)."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        bits = context.cast(builder, args[0], sig.args[0], types.int32)
        return builder.bitcast(bits, ir.FloatType())
    return types.float32(i), codegen


def _float_intrinsic(name, arity):
    """An LLVM float32 intrinsic as a function numba can call; LLVM vectorizes it and, unlike plain
    arithmetic, never reassociates through it."""
    def typer(args):
        if any(a != types.float32 for a in args):
            return None

        def codegen(context, builder, sig, values):
            ty = ir.FloatType()
            fn = builder.module.declare_intrinsic(name, [ty], ir.FunctionType(ty, [ty] * arity))
            return builder.call(fn, values)
        return types.float32(*args), codegen

    # numba's intrinsics take no *args: one signature per arity
    if arity == 1:
        return intrinsic(lambda typingctx, a: typer((a,)))
    if arity == 2:
        return intrinsic(lambda typingctx, a, b: typer((a, b)))
    return intrinsic(lambda typingctx, a, b, c: typer((a, b, c)))


maxnum = _float_intrinsic("llvm.maxnum", 2)  # max(a, b); a NaN operand yields the other one
minnum = _float_intrinsic("llvm.minnum", 2)
rint = _float_intrinsic("llvm.rint", 1)  # to the nearest integer, ties to even
fma = _float_intrinsic("llvm.fma", 3)  # a * b + c, rounded once


@_jit
def tanh(x):
    """Odd rational minimax form on [-7.9, 7.9]; beyond it exactly +-1 (so that 1 - tanh^2 is 0 there)."""
    big = abs(x) > f32(7.90531110763549805)
    sign = f32(1.0) if x > 0 else f32(-1.0)
    x = min(max(x, f32(-7.90531110763549805)), f32(7.90531110763549805))
    x2 = x * x
    p = f32(-2.76076847742355e-16)
    p = p * x2 + f32(2.00018790482477e-13)
    p = p * x2 + f32(-8.60467152213735e-11)
    p = p * x2 + f32(5.12229709037114e-08)
    p = p * x2 + f32(1.48572235717979e-05)
    p = p * x2 + f32(6.37261928875436e-04)
    p = p * x2 + f32(4.89352455891786e-03)
    q = f32(1.19825839466702e-06)
    q = q * x2 + f32(1.18534705686654e-04)
    q = q * x2 + f32(2.26843463243900e-03)
    q = q * x2 + f32(4.89352518554385e-03)
    return sign if big else x * p / q


@_jit
def erf(x):
    """Odd rational minimax form on [-4, 4]; beyond it erf is +-1 in float32."""
    x = min(max(x, f32(-4.0)), f32(4.0))
    x2 = x * x
    p = f32(-2.72614225801306e-10)
    p = p * x2 + f32(2.77068142495902e-08)
    p = p * x2 + f32(-2.10102402082508e-06)
    p = p * x2 + f32(-5.69250639462346e-05)
    p = p * x2 + f32(-7.34990630326855e-04)
    p = p * x2 + f32(-2.95459980854025e-03)
    p = p * x2 + f32(-1.60960333262415e-02)
    q = f32(-1.45660718464996e-05)
    q = q * x2 + f32(-2.13374055278905e-04)
    q = q * x2 + f32(-1.68282697438203e-03)
    q = q * x2 + f32(-7.37332916720468e-03)
    q = q * x2 + f32(-1.42647390514189e-02)
    return x * p / q


@_jit
def exp(z):
    """exp(z) in float32 to 1 ulp: z = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, each product taken
    off in one rounding), Cephes' degree-7 polynomial for exp(r), times 2^n built from its exponent bits in
    two halves, so that results below 2^-126 round once, as subnormals, and above 2^128 overflow to inf.
    Below -110 the result is 0, above 89 inf; a nan stays nan. Written with intrinsics where it must not
    be reassociated, so that it stays exact inlined into reductions (exp_sum)."""
    c = minnum(maxnum(z, f32(-110.0)), f32(89.0))
    n = rint(c * f32(1.44269504088896341))
    r = fma(-n, f32(1.428606765330187045e-06), fma(-n, f32(0.693145751953125), c))
    p = f32(1.9875691500e-4)
    p = p * r + f32(1.3981999507e-3)
    p = p * r + f32(8.3334519073e-3)
    p = p * r + f32(4.1665795894e-2)
    p = p * r + f32(1.6666665459e-1)
    p = p * r + f32(5.0000001201e-1)
    p = p * r * r + r + f32(1.0)
    k = np.int32(n)
    half = k >> np.int32(1)
    e = p * _int_bits_as_f32((half + np.int32(127)) << np.int32(23)) * _int_bits_as_f32(
        (k - half + np.int32(127)) << np.int32(23))
    return e if z == z else z  # the clamp would turn a nan into a number


@_jit
def sech2(x, t):
    """1 - tanh(x)^2 given t = tanh(x), without the cancellation where |t| is near 1 (there from exp)."""
    e = exp(f32(-2.0) * abs(x))
    far = f32(4.0) * e / ((f32(1.0) + e) * (f32(1.0) + e))
    return far if abs(x) > f32(4.0) else f32(1.0) - t * t


SUM_BLOCK = 1024


@nb.njit(inline="never", fastmath=REDUCE, error_model="numpy", cache=True)
def row_sum(a, n):
    """sum(a[:n]) as a float64: blocks of SUM_BLOCK elements summed in a's dtype in SIMD lanes (each lane
    adds a few dozen terms: float32 lanes run twice as wide as float64 ones), the block sums in float64."""
    s = 0.0
    full = n - n % SUM_BLOCK
    for b in range(0, full, SUM_BLOCK):
        t = a.dtype.type(0)
        for j in range(SUM_BLOCK):
            t += a[b + j]
        s += t
    t = a.dtype.type(0)
    tail = a[full:n]  # a view from 0: a loop starting at `full` stayed scalar (1000 floats: 217 -> 37 ns)
    for j in range(tail.shape[0]):
        t += tail[j]
    return s + t


@nb.njit(inline="never", fastmath=REDUCE, error_model="numpy", cache=True)
def exp_sum(a, n):
    """sum(exp(a[:n])), accumulated in float64."""
    s = 0.0
    for j in range(n):
        s += exp(a[j])
    return s


# maxima may assume no NaN (nnan: what lets LLVM vectorize them); a NaN in a row makes the result a NaN or
# skips it, and callers find NaNs through their sums either way
@nb.njit(inline="never", fastmath=REDUCE | {"nnan"}, error_model="numpy", cache=True)
def row_max(a, n):
    m = f32(-np.inf)
    for j in range(n):
        m = maxnum(m, a[j])
    return m


@nb.njit(inline="never", fastmath=REDUCE | {"nnan"}, error_model="numpy", cache=True)
def row_min(a, n):
    m = f32(np.inf)
    for j in range(n):
        m = minnum(m, a[j])
    return m
