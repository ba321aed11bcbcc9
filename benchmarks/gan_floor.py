"""The Lecture 69 GAN step as a bare NumPy loop: the floor under scratch's `train_on_batch`.

`BareGan` does the math of the benchmark's three calls (the discriminator on real images,
on fakes, then the combined model on noise) with scratch's own math functions and kernels
(`dense_forward` / `dense_backward`, the activations, the batch-norm fast form, the fused
binary cross-entropy, Adam's step constants and kernel) and nothing of the engine around
them: no layer or model objects, no input checks, no graph walk, no metric objects, no
thread policy. It still computes everything the three calls return or change: the losses,
the discriminator's accuracy, the batch-norm moving statistics and both Adam states.

Timed beside scratch and tf.keras, it shows how much of scratch's time is the math itself
on this machine, and so how far any engine could go (tests/test_gan_floor.py checks that it
reaches scratch's losses and weights bit for bit). Per step, for a batch of N:

    D step (x, y):  z₁ = x W₁ + b₁, a₁ = lrelu(z₁), z₂ = a₁ W₂ + b₂, a₂ = lrelu(z₂),
                    z₃ = a₂ W₃ + b₃, p = σ(z₃);  L = mean BCE(y, z₃);  backprop; Adam on D
    combined (u):   G: h = BN(lrelu(u W + b)) three times, x̃ = tanh(h W₄ + b₄);
                    D(x̃) as above with D frozen;  L = mean BCE(1, z₃);  backprop to G's
                    weights (through D's, unchanged); Adam on G
"""

from __future__ import annotations

import numpy as np
from roof import gemm_flops, gemm_runner  # beside this file (benchmarks/ is on the path)

import scratch
from scratch._kernels import load as load_kernels
from scratch.layers.core import dense_backward, dense_forward
from scratch.layers.normalization import batch_norm_backward_fast, batch_norm_forward_fast
from scratch.losses import bce_logits_mean_fast


class _AdamState:
    """Adam's moments for a list of weights, and an unbuilt `scratch.optimizers.Adam` for
    the step count and its per-step constants (`_step_constants`)."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float, beta_1: float) -> None:
        self.weights = weights
        self.moments = [(np.zeros_like(w), np.zeros_like(w)) for w in weights]
        self.rule = scratch.optimizers.Adam(learning_rate, beta_1)
        self.kernel = load_kernels("optimizers").adam_update

    def step(self, grads: list[np.ndarray]) -> None:
        constants = self.rule._step_constants(self.rule._current_learning_rate(),
                                              self.weights[0].dtype)
        for w, g, (m, v) in zip(self.weights, grads, self.moments, strict=True):
            self.kernel(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *constants)
        self.rule._iterations += 1


class BareGan:
    """The course's generator (3 × Dense + LeakyReLU(0.2) + BatchNormalization(momentum 0.8),
    then Dense + tanh) and discriminator (2 × Dense + LeakyReLU(0.2), Dense(1) + sigmoid),
    copied from scratch models, trained with Adam(lr, β₁) and binary cross-entropy.

    Args:
        generator, discriminator: built scratch models of that architecture (float32).
        learning_rate, beta_1: both optimizers' (the course: 0.0002, 0.5).
    """

    def __init__(self, generator, discriminator, learning_rate=0.0002, beta_1=0.5) -> None:
        g = generator.get_weights()  # kernel, bias, [γ, β, μ, σ²] per block, then the output
        self.G = [g[0:2], g[6:8], g[12:14], g[18:20]]
        self.bn = [g[2:6], g[8:12], g[14:18]]
        d = discriminator.get_weights()  # kernel, bias per layer
        self.D = [d[0:2], d[2:4], d[4:6]]
        self.momentum = np.float32(0.8)
        self.one_minus_momentum = np.float32(1.0 - 0.8)
        self.epsilon = 1e-3
        self.lrelu = scratch.activations.LeakyReLU(0.2)
        self.tanh = scratch.activations.get("tanh")
        self.sigmoid = scratch.activations.get("sigmoid")
        self.moments = load_kernels("normalization").batch_moments
        self.d_adam = _AdamState([w for pair in self.D for w in pair], learning_rate, beta_1)
        self.g_adam = _AdamState([w for i, pair in enumerate(self.G) for w in
                                  pair + (self.bn[i][:2] if i < 3 else [])],
                                 learning_rate, beta_1)

    # ------------------------------------------------------------------ pieces
    def _d_forward(self, x):
        cache, h = [], x
        for k, (W, b) in enumerate(self.D):
            z = dense_forward(h, W, b)
            cache.append((h, z))
            h = self.lrelu.forward(z) if k < 2 else self.sigmoid.forward(z)
        return h, cache

    def _d_backward(self, dz, cache, learn: bool):
        """Back through D from dL/dz₃: D's gradients (if `learn`) and dL/dx (if not)."""
        grads = []
        for k in (2, 1, 0):
            h, z = cache[k]
            if k < 2:
                dz = self.lrelu.backward(dz, z, None)
            dz, layer = dense_backward(dz, h, self.D[k][0], True, need_dx=k > 0 or not learn,
                                       need_grads=learn)
            grads[:0] = list(layer.values())
        return grads, dz

    # ------------------------------------------------------------------ the three calls
    def d_step(self, x, y):
        """`discriminator.train_on_batch(x, y)`: (loss, accuracy) before the update."""
        p, cache = self._d_forward(x)
        loss, dz = bce_logits_mean_fast(y, cache[2][1], True)
        accuracy = np.float32(np.count_nonzero((p[:, 0] > np.float32(0.5)) == (y > 0.5))
                              / len(y))
        grads, _ = self._d_backward(dz, cache, learn=True)
        self.d_adam.step(grads)
        return loss, accuracy

    def combined_step(self, noise):
        """`combined.train_on_batch(noise, ones)` with D frozen: the loss before the update."""
        h, cache = noise, []
        for k, (W, b) in enumerate(self.G):
            z = dense_forward(h, W, b)
            if k < 3:
                a = self.lrelu.forward(z)
                gamma, beta, mm, mv = self.bn[k]
                mean, var = self.moments(a)
                y, norm = batch_norm_forward_fast(a, mean, var, gamma, beta, self.epsilon, True)
                mm[...] = mm * self.momentum + mean * self.one_minus_momentum
                mv[...] = mv * self.momentum + var * self.one_minus_momentum
                cache.append((h, z, norm))
            else:
                y = self.tanh.forward(z)
                cache.append((h, z, y))
            h = y
        _, d_cache = self._d_forward(h)
        loss, dz = bce_logits_mean_fast(np.ones(len(noise)), d_cache[2][1], True)
        _, dx = self._d_backward(dz, d_cache, learn=False)
        grads = []
        for k in (3, 2, 1, 0):
            h, z, saved = cache[k]
            if k == 3:
                dz, bn_grads = self.tanh.backward(dx, z, saved), []
            else:
                da, bn = batch_norm_backward_fast(dx, saved, True, True)
                dz, bn_grads = self.lrelu.backward(da, z, None), [bn["gamma"], bn["beta"]]
            dx, layer = dense_backward(dz, h, self.G[k][0], True, need_dx=k > 0)
            grads[:0] = list(layer.values()) + bn_grads
        self.g_adam.step(grads)
        return loss

    def step(self, real, fake, noise):
        """The benchmark's three calls: (D loss on real, D loss on fakes, combined loss)."""
        ones, zeros = np.ones(len(real)), np.zeros(len(fake))
        return self.d_step(real, ones)[0], self.d_step(fake, zeros)[0], self.combined_step(noise)

    def weights(self) -> tuple[list, list]:
        """(generator weights, discriminator weights) in Keras' `get_weights()` order."""
        g = []
        for k in range(4):
            g += self.G[k] + (self.bn[k] if k < 3 else [])
        return g, [w for pair in self.D for w in pair]


# ----------------------------------------------------------------------------- the floor's parts
def gemm_shapes(bare: BareGan, batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of the three calls, in the order the floor runs them:
    each D step: x·W forward for D's three layers, then dz·Wᵀ (not for the first layer) and
    xᵀ·dz backward; the combined step: G's four and D's three forward products, D's input
    gradients (no weight gradients: D is frozen), then G's weight and input gradients."""
    d = [W.shape for W, _ in bare.D]
    g = [W.shape for W, _ in bare.G]
    out = []
    for _ in range(2):  # D on real images, D on fakes
        out += [(batch, k, n) for k, n in d]
        for i in (2, 1, 0):
            k, n = d[i]
            if i > 0:
                out.append((batch, n, k))  # dz · Wᵀ
            out.append((k, batch, n))  # xᵀ · dz
    out += [(batch, k, n) for k, n in g + d]
    out += [(batch, n, k) for k, n in reversed(d)]  # dx through the frozen D
    for i in (3, 2, 1, 0):
        k, n = g[i]
        out.append((k, batch, n))
        if i > 0:
            out.append((batch, n, k))
    return out


def adam_elements(bare: BareGan) -> int:
    """Weights Adam updates in the three calls: D's twice, G's (with β, γ) once."""
    return (2 * sum(w.size for w in bare.d_adam.weights)
            + sum(w.size for w in bare.g_adam.weights))


def part_timers(bare: BareGan, batch: int, rng=None) -> dict:
    """The floor's two parts, each alone, as callables with their work: "gemm" runs every
    matrix product of the three calls (`gemm_shapes`) on arrays of those shapes (FLOPs =
    2·m·k·n), "adam" runs Adam's kernel over D's weights twice and G's once (bytes: each
    element reads w, g, m, v and writes w, m, v). Returns {name: (callable, work, kind)}.
    Adam's steps change `bare`'s weights: give it a copy that the benchmark does not time."""
    dtype = bare.D[0][0].dtype
    shapes = gemm_shapes(bare, batch)
    gemms = gemm_runner(shapes, dtype, rng)

    d_grads = [np.full_like(w, 1e-3) for w in bare.d_adam.weights]
    g_grads = [np.full_like(w, 1e-3) for w in bare.g_adam.weights]

    def adam():
        bare.d_adam.step(d_grads)
        bare.d_adam.step(d_grads)
        bare.g_adam.step(g_grads)

    flops = gemm_flops(shapes)
    bytes_moved = 7 * dtype.itemsize * adam_elements(bare)
    return {"gemm": (gemms, flops, "flops"), "adam": (adam, bytes_moved, "bytes")}
