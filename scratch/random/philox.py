"""Philox-4x32-10 and TensorFlow's stateless random ops, in NumPy, bit for bit.

Keras 3 on TensorFlow makes every random number (initial weights, dropout masks) with
TensorFlow's *stateless* ops: the same seed always gives the same numbers. Underneath is the
counter-based generator Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as
1, 2, 3", SC 2011). It has no state to carry: the n-th block of four random 32-bit words is a
pure function of a 64-bit key and the 128-bit counter value n. This module writes it out.

The generator, one block:

    counter c = (c0, c1, c2, c3), key k = (k0, k1), all 32-bit words
    repeat 10 rounds:
        hi0, lo0 = M0 · c0       (a 64-bit product split in two words)
        hi1, lo1 = M1 · c2
        c = (hi1 ⊕ c1 ⊕ k0,  lo1,  hi0 ⊕ c3 ⊕ k1,  lo0)
        k = (k0 + W0, k1 + W1)   (the key schedule; mod 2³²)
    output c

Seeding (TensorFlow's `StatelessRandomGetKeyCounter`): the seed pair (s0, s1) is scrambled
with one Philox block under a fixed key, so that no bit of the seed is weaker than another:

    m = philox(counter=(s0 lo, s0 hi, s1 lo, s1 hi), key=(0x3ec8f720, 0x02461e29))
    key = (m0, m1),  counter = (0, 0, m2, m3)

Block i of a draw uses counter + i (a 128-bit addition).

From words to numbers (TensorFlow's random_distributions.h):

    float32 uniform in [0, 1):  u = float(0x3f800000 | (w & 0x7fffff)) − 1    (23 random bits)
    float64 uniform in [0, 1):  u = double(0x3ff << 52 | (w0 & 0xfffff) << 32 | w1) − 1
    normal (Box–Muller), a pair from two uniforms u1, u2:
        u1 = max(u1, 1e-7)        (float32; 1e-7 also in float64)
        r = √(−2 ln u1),   θ = 2π·u2
        z0 = r·sin θ,      z1 = r·cos θ
    truncated normal: normal pairs, keeping values with |z| < 2, until a group of 4 (float32)
        or 2 (float64) values is full; TensorFlow reserves 256 words per value, so group g
        reads the blocks from counter + 64·4·g (float32) or + 64·2·g (float64) on: each group
        has a stream of its own.

A float32 block gives four uniforms or four normals; a float64 block two of either. The
output is filled group after group in C order; a last partial group is cut.

ln, sin and cos are the C library's (TensorFlow calls logf and sincosf): `_kernels/random.py`
computes the Box–Muller step with them (the same functions on every CPU), and
`box_muller_readable` here is its plain twin through `scalar_math`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _kernels, backend, scalar_math

__all__ = ["philox", "key_and_counter", "random_words", "uniform", "normal",
           "truncated_normal", "box_muller_readable", "random_shuffle"]

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)  # round multipliers
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)  # key schedule (golden ratio, √3 − 1)
ROUNDS = 10
SEED_SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)
RESERVED_WORDS_PER_VALUE = 256  # a truncated value may use up to 256 random words
TRUNCATE_AT = 2.0
_LOW32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def _multiply(m: np.uint64, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo): the two 32-bit halves of the 64-bit product m · c."""
    product = m * c.astype(np.uint64)
    return (product >> _32).astype(np.uint32), (product & _LOW32).astype(np.uint32)


def philox(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox-4x32-10 of each counter: (4, n) uint32 words in, (4, n) words out."""
    c0, c1, c2, c3 = (np.asarray(w, np.uint32) for w in counter)
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    with np.errstate(over="ignore"):  # the key schedule wraps mod 2³² on purpose
        for round_number in range(ROUNDS):
            hi0, lo0 = _multiply(M0, c0)
            hi1, lo1 = _multiply(M1, c2)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            if round_number < ROUNDS - 1:
                k0, k1 = k0 + W0, k1 + W1
    return np.stack([c0, c1, c2, c3])


def key_and_counter(seed) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """TensorFlow's key and starting counter for a stateless seed pair (s0, s1)."""
    s0, s1 = (int(s) & 0xFFFFFFFFFFFFFFFF for s in seed)
    if backend.fast_paths_enabled():  # the same block through the Numba kernel
        m = np.empty((1, 4), np.uint32)
        _kernels.load("random").philox_blocks(
            np.uint64(SEED_SCRAMBLE_KEY[0]), np.uint64(SEED_SCRAMBLE_KEY[1]), np.uint64(s0),
            np.uint64(s1), np.zeros(1, np.uint64), m)
        m = m[0]
    else:
        words = np.array([[s0 & 0xFFFFFFFF], [s0 >> 32], [s1 & 0xFFFFFFFF], [s1 >> 32]],
                         np.uint32)
        m = philox(words, SEED_SCRAMBLE_KEY)[:, 0]
    return (int(m[0]), int(m[1])), (0, 0, int(m[2]), int(m[3]))


def _blocks(seed, block_numbers: np.ndarray) -> np.ndarray:
    """The Philox outputs for the given block numbers of `seed`'s stream: (n, 4) uint32
    (the Numba kernel `_kernels.random.philox_blocks` while the fast paths are on)."""
    key, (c0, c1, c2, c3) = key_and_counter(seed)
    start_low, start_high = np.uint64(c1 << 32 | c0), np.uint64(c3 << 32 | c2)
    if backend.fast_paths_enabled():
        out = np.empty((block_numbers.size, 4), np.uint32)
        _kernels.load("random").philox_blocks(
            np.uint64(key[0]), np.uint64(key[1]), start_low, start_high,
            np.ascontiguousarray(block_numbers, np.uint64), out)
        return out
    with np.errstate(over="ignore"):  # the 128-bit counter wraps mod 2¹²⁸
        low = start_low + block_numbers.astype(np.uint64)
        high = start_high + (low < start_low).astype(np.uint64)  # the carry
    counter = [low & _LOW32, low >> _32, high & _LOW32, high >> _32]
    return philox(counter, key).T


def random_words(seed, blocks: int, first_block: int = 0) -> np.ndarray:
    """Blocks first_block … first_block + blocks − 1 of the stream of `seed`: (blocks, 4)
    uint32, each row one Philox output."""
    return _blocks(seed, np.arange(first_block, first_block + blocks, dtype=np.uint64))


def _floats(words: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Uniform [0, 1) numbers from the words: one per word (float32) or per pair (float64)."""
    words = words.reshape(-1)
    if dtype == np.float32:
        bits = np.uint32(0x3F800000) | (words & np.uint32(0x7FFFFF))
        return bits.view(np.float32) - np.float32(1)
    high, low = words[0::2].astype(np.uint64), words[1::2].astype(np.uint64)
    bits = (np.uint64(1023) << np.uint64(52)) | ((high & np.uint64(0xFFFFF)) << _32) | low
    return bits.view(np.float64) - 1.0


def _size(shape) -> int:
    return math.prod(int(d) for d in shape)


def _values(shape, seed, dtype, from_words) -> np.ndarray:
    """The first Π shape numbers that `from_words` makes of the stream's blocks, four per
    block in float32, two in float64, in C order."""
    dtype = np.dtype(dtype)
    n = _size(shape)
    per_block = 4 if dtype == np.float32 else 2
    words = random_words(seed, -(-n // per_block))
    return from_words(words, dtype)[:n].reshape(shape)


def uniform(shape, seed, dtype="float32") -> np.ndarray:
    """`tf.random.stateless_uniform(shape, seed, dtype=dtype)`: [0, 1). (float32 while the
    fast paths are on: one Numba pass, `_kernels.random.stateless_uniform_f32`.)"""
    if np.dtype(dtype) == np.float32 and backend.fast_paths_enabled():
        out = np.empty(_size(shape), np.float32)
        s0, s1 = (int(s) & 0xFFFFFFFFFFFFFFFF for s in seed)
        _kernels.load("random").stateless_uniform_f32(np.uint64(s0), np.uint64(s1), out)
        return out.reshape(shape)
    return _values(shape, seed, dtype, _floats)


def box_muller_readable(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Box–Muller step element by element with the C library's ln, sin, cos (the plain
    twin of `_kernels.random.box_muller`). float32: θ = float(2π·u2) is computed in double,
    as TensorFlow's `2.0f * M_PI * u` is."""
    dtype = u1.dtype.type
    z0, z1 = np.empty_like(u1), np.empty_like(u1)
    for i in range(u1.size):
        a = max(u1[i], dtype(1e-7))
        theta = dtype(2.0 * math.pi * float(u2[i]))
        r = np.sqrt(dtype(-2.0) * scalar_math.log(a))
        z0[i] = scalar_math.sin(theta) * r
        z1[i] = scalar_math.cos(theta) * r
    return z0, z1


def _box_muller(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Numba kernel, or its readable twin while the fast paths are off."""
    if not backend.fast_paths_enabled():
        return box_muller_readable(u1, u2)
    z0, z1 = np.empty_like(u1), np.empty_like(u1)
    dtype = u1.dtype.type
    _kernels.load("random").box_muller(u1, u2, z0, z1, dtype(1e-7), dtype(-2.0))
    return z0, z1


def _normal_groups(words: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Normals from blocks of words, in TensorFlow's order: per block (z0, z1) of the first
    pair of uniforms, then of the second (float32); one pair per block in float64."""
    u = _floats(words, dtype).reshape(len(words), -1)  # (blocks, 4) or (blocks, 2)
    pairs = u.reshape(len(words), -1, 2)
    z0, z1 = _box_muller(np.ascontiguousarray(pairs[..., 0]).reshape(-1),
                         np.ascontiguousarray(pairs[..., 1]).reshape(-1))
    return np.stack([z0, z1], axis=-1).reshape(-1)


def normal(shape, seed, dtype="float32") -> np.ndarray:
    """`tf.random.stateless_normal(shape, seed, dtype=dtype)`: mean 0, std 1."""
    return _values(shape, seed, dtype, _normal_groups)


def truncated_normal(shape, seed, dtype="float32") -> np.ndarray:
    """`tf.random.stateless_truncated_normal(shape, seed, dtype=dtype)`: |z| < 2.

    Group g (4 values in float32, 2 in float64) reads normal pairs from its own block,
    g · 256 words per value · group size / 4 words per block, on, and keeps those under 2 in
    magnitude, in order, until the group is full.
    """
    dtype = np.dtype(dtype)
    group = 4 if dtype == np.float32 else 2
    blocks_per_group = np.uint64(RESERVED_WORDS_PER_VALUE * group // 4)
    n = _size(shape)
    groups = np.arange(-(-n // group), dtype=np.uint64)
    out = np.empty((groups.size, group), dtype)
    blocks = 4  # enough for almost every group (a value is kept with probability 0.95)
    while groups.size:
        numbers = groups[:, None] * blocks_per_group + np.arange(
            blocks, dtype=np.uint64)
        z = _normal_groups(_blocks(seed, numbers.reshape(-1)), dtype).reshape(groups.size, -1)
        unfinished = []
        for row, g in enumerate(groups):
            kept = z[row][np.abs(z[row]) < TRUNCATE_AT]
            if kept.size >= group:
                out[g] = kept[:group]
            else:
                unfinished.append(g)  # rare: drawn again with more blocks
        groups = np.array(unfinished, dtype=np.uint64)
        blocks *= 4
    return out.reshape(-1)[:n].reshape(shape)


def random_shuffle(n: int, seed: int, seed2: int) -> np.ndarray:
    """The permutation of range(n) that TensorFlow's stateful `RandomShuffle` op gives for the
    op seeds (seed, seed2) on its first run: what tf.keras' `fit(shuffle=True)` uses.

    Unlike the stateless ops, the op's generator is Philox with the seeds unscrambled:
    key = (seed lo, seed hi), counter = (0, 0, seed2 lo, seed2 hi). Its words w₀, w₁, …
    drive a forward Fisher–Yates shuffle:

        for i = 0 … n − 2:  j = i + wᵢ mod (n − i);  swap v[i], v[j]
    """
    if n >= 2**31 - 1:
        raise ValueError(f"random_shuffle handles fewer than 2³¹ − 1 items. Received: n={n}")
    order = np.arange(n)
    if n < 2:
        return order
    blocks = np.arange(-(-(n - 1) // 4), dtype=np.uint64)
    counter = [blocks & _LOW32, blocks >> _32,
               np.full(blocks.size, seed2 & 0xFFFFFFFF, np.uint64),
               np.full(blocks.size, seed2 >> 32, np.uint64)]
    words = philox(counter, (seed & 0xFFFFFFFF, seed >> 32)).T.reshape(-1).tolist()
    for i in range(n - 1):
        j = i + words[i] % (n - i)
        order[i], order[j] = order[j], order[i]
    return order
