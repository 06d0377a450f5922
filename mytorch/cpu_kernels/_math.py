"""Scalar float32 math that compiles to SIMD code.

numba turns math.tanh / math.erf / math.exp into one libm call per element (~5-15 ns each); these
rational and polynomial forms are plain arithmetic, which LLVM vectorizes. Accuracy, checked over every
float32 grid of 2M points in tests/test_cpu_kernels.py: tanh and erf within 5e-7 absolute, exp_neg within 4 ulp.
"""
import numba as nb
import numpy as np

f32 = np.float32
# LLVM may contract a * b + c into one FMA and skip signed-zero / NaN-payload care, but not reassociate:
# GELU's derivative relies on 1 - tanh^2 being exactly 0 where tanh is +-1
FAST = {"nsz", "arcp", "contract", "afn"}
# reductions (row sums, maxima) vectorize only when LLVM may reassociate them
REDUCE = FAST | {"reassoc"}
f64 = np.float64
_jit = nb.njit(inline="always", fastmath=FAST, error_model="numpy", cache=True)


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
def exp_neg(z):
    """exp(z) for z <= 0 (float32 in and out): exp(z / 256) by its Taylor series in float64, squared 8
    times. Below -110 the float32 result is 0."""
    r = f64(max(z, f32(-110.0))) * f64(1.0 / 256.0)
    e = f64(1.0) + r * (f64(1.0) + r * (f64(1 / 2) + r * (f64(1 / 6) + r * (f64(1 / 24) + r * (
        f64(1 / 120) + r * (f64(1 / 720) + r * (f64(1 / 5040) + r * (f64(1 / 40320) + r * f64(1 / 362880)))))))))
    for _ in range(8):
        e = e * e
    return f32(e)


@_jit
def sech2(x, t):
    """1 - tanh(x)^2 given t = tanh(x), without the cancellation where |t| is near 1 (there from exp)."""
    e = exp_neg(f32(-2.0) * abs(x))
    far = f32(4.0) * e / ((f32(1.0) + e) * (f32(1.0) + e))
    return far if abs(x) > f32(4.0) else f32(1.0) - t * t


SUM_BLOCK = 1024


@nb.njit(inline="never", fastmath=REDUCE, error_model="numpy", cache=True)
def row_sum(a, n):
    """sum(a[:n]) as a float64: blocks of SUM_BLOCK elements summed in a's dtype in SIMD lanes (each lane
    adds a few dozen terms: float32 lanes run twice as wide as float64 ones), the block sums in float64."""
    s = 0.0
    for b in range(0, n, SUM_BLOCK):
        t = a.dtype.type(0)
        for j in range(b, min(b + SUM_BLOCK, n)):
            t += a[j]
        s += t
    return s


@nb.njit(inline="never", fastmath=REDUCE, error_model="numpy", cache=True)
def exp_sum(a, n):
    """sum(exp(a[:n])) for a[:n] <= 0, accumulated in float64."""
    s = 0.0
    for j in range(n):
        s += exp_neg(a[j])
    return s


@nb.njit(inline="always", fastmath=FAST, error_model="numpy", cache=True)
def _lanes(a, n, sign):
    """max(sign * a[:n]) * sign, kept in 16 independent lanes so that LLVM emits vector max instructions (a
    running max(m, x) is a serial chain it won't vectorize). NaNs are skipped: callers find them through
    their sums."""
    acc = np.full(16, -np.inf, np.float32)
    full = n - n % 16
    for j in range(0, full, 16):
        for k in range(16):
            v = a[j + k] * sign
            acc[k] = v if v > acc[k] else acc[k]
    m = np.float32(-np.inf)
    for k in range(16):
        m = acc[k] if acc[k] > m else m
    for j in range(full, n):
        v = a[j] * sign
        m = v if v > m else m
    return m * sign


@nb.njit(inline="never", fastmath=FAST, error_model="numpy", cache=True)
def row_max(a, n):
    return _lanes(a, n, f32(1.0))


@nb.njit(inline="never", fastmath=FAST, error_model="numpy", cache=True)
def row_min(a, n):
    return _lanes(a, n, f32(-1.0))
