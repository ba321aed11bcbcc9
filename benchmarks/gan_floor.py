"""The Lecture 69 GAN step as a bare NumPy loop: the floor under scratch's `train_on_batch`.

`BareGan` does the math of the benchmark's three calls (the discriminator on real images,
on fakes, then the combined model on noise) with the kernels scratch's fast paths use
(`np.matmul`, the Numba LeakyReLU, batch-norm, binary cross-entropy and Adam kernels) and
nothing of the engine around them: no input checks, no graph walk, no layer objects, no
thread policy. It still computes everything the three calls return or change: the losses,
the discriminator's accuracy, the batch-norm moving statistics and both Adam states.

Timed beside scratch and tf.keras, it shows how much of scratch's time is the math itself
on this machine, and so how far any engine could go (tests/test_gan_floor.py checks that it
reaches the same weights as scratch's three calls). Per step, for a batch of N:

    D step (x, y):  z₁ = x W₁ + b₁, a₁ = lrelu(z₁), z₂ = a₁ W₂ + b₂, a₂ = lrelu(z₂),
                    z₃ = a₂ W₃ + b₃, p = σ(z₃);  L = mean BCE(y, z₃);  backprop; Adam on D
    combined (u):   G: h = BN(lrelu(u W + b)) three times, x̃ = tanh(h W₄ + b₄);
                    D(x̃) as above with D frozen;  L = mean BCE(1, z₃);  backprop to G's
                    weights (through D's, unchanged); Adam on G
"""

from __future__ import annotations

import numpy as np

from scratch._kernels import load as load_kernels


class _AdamState:
    """Keras' Adam for one list of float32 arrays: m, v per array and the step count."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float, beta_1: float,
                 beta_2: float = 0.999, epsilon: float = 1e-7) -> None:
        self.moments = [(np.zeros_like(w), np.zeros_like(w)) for w in weights]
        self.lr = np.float32(learning_rate)
        self.beta_1, self.beta_2 = np.float32(beta_1), np.float32(beta_2)
        self.fixed = (np.float32(1 - beta_1), np.float32(1 - beta_2), np.float32(epsilon))
        self.iterations = 0

    def constants(self) -> tuple:
        """(α, 1 − β₁, 1 − β₂, ε) for this step: α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)."""
        t = np.float32(self.iterations + 1)
        alpha = self.lr * np.sqrt(1 - np.power(self.beta_2, t)) / (1 - np.power(self.beta_1, t))
        return (np.float32(alpha),) + self.fixed


class BareGan:
    """The course's generator (3 × Dense + LeakyReLU(0.2) + BatchNormalization(momentum 0.8),
    then Dense + tanh) and discriminator (2 × Dense + LeakyReLU(0.2), Dense(1) + sigmoid),
    copied from scratch models, trained with Adam(lr, β₁) and binary cross-entropy.

    Args:
        generator, discriminator: built scratch models of that architecture (float32).
        learning_rate, beta_1: both optimizers' (the course: 0.0002, 0.5).
    """

    slope = np.float32(0.2)

    def __init__(self, generator, discriminator, learning_rate=0.0002, beta_1=0.5) -> None:
        g = generator.get_weights()  # kernel, bias, [γ, β, μ, σ²] per block, then the output
        self.G = [g[0:2], g[6:8], g[12:14], g[18:20]]
        self.bn = [g[2:6], g[8:12], g[14:18]]
        d = discriminator.get_weights()  # kernel, bias per layer
        self.D = [d[0:2], d[2:4], d[4:6]]
        self.momentum = np.float32(0.8)
        self.one_minus_momentum = np.float32(1.0 - 0.8)
        self.epsilon = np.float32(1e-3)
        self.d_adam = _AdamState([w for pair in self.D for w in pair], learning_rate, beta_1)
        g_trainable = [w for i, pair in enumerate(self.G) for w in
                       pair + (self.bn[i][:2] if i < 3 else [])]
        self.g_adam = _AdamState(g_trainable, learning_rate, beta_1)
        self._g_trainable = g_trainable
        self._act = load_kernels("activations")
        self._norm = load_kernels("normalization")
        self._loss = load_kernels("losses")
        self._adam = load_kernels("optimizers").adam_update

    # ------------------------------------------------------------------ pieces
    def _lrelu(self, z):
        return self._act.leaky_relu_forward(z.reshape(-1), self.slope).reshape(z.shape)

    def _lrelu_backward(self, dy, z):
        return self._act.leaky_relu_backward(dy.reshape(-1), z.reshape(-1),
                                             self.slope).reshape(dy.shape)

    def _bce(self, y, z):
        """mean BCE from logits z (N, 1) and dL/dz, with scratch's one-call kernel."""
        one, n = np.float32(1), np.float32(len(z))
        dz = np.empty_like(z)
        loss = self._loss.bce_logits_mean(y, z, one, one, n, True, dz)
        return np.float32(loss), dz

    @staticmethod
    def _sigmoid(z):
        e = np.minimum(z, 40.0, out=np.empty(z.shape, z.dtype))
        np.exp(e, out=e)
        return np.divide(e, e + 1.0, out=e)

    def _adam_step(self, state, weights, grads):
        constants = state.constants()
        for w, g, (m, v) in zip(weights, grads, state.moments, strict=True):
            self._adam(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *constants)
        state.iterations += 1

    def _d_forward(self, x):
        cache, h = [], x
        for k, (W, b) in enumerate(self.D):
            z = np.matmul(h, W)
            z += b
            cache.append((h, z))
            h = self._lrelu(z) if k < 2 else self._sigmoid(z)
        return h, cache

    def _d_backward(self, dz, cache, learn: bool):
        """Back through D from dL/dz₃: D's gradients (if `learn`) and dL/dx (if not)."""
        grads = []
        for k in (2, 1, 0):
            h, z = cache[k]
            W = self.D[k][0]
            if k < 2:
                dz = self._lrelu_backward(dz, z)
            if learn:
                grads[:0] = [h.T @ dz, np.add.reduce(dz, axis=0)]
            dz = dz @ W.T if (k > 0 or not learn) else None
        return grads, dz

    # ------------------------------------------------------------------ the three calls
    def d_step(self, x, y):
        """`discriminator.train_on_batch(x, y)`: (loss, accuracy) before the update."""
        p, cache = self._d_forward(x)
        y = np.ascontiguousarray(y, np.float32).reshape(-1, 1)
        loss, dz = self._bce(y, cache[2][1])
        accuracy = np.float32(np.count_nonzero((p[:, 0] > np.float32(0.5)) == (y[:, 0] > 0.5))
                              / len(y))
        grads, _ = self._d_backward(dz, cache, learn=True)
        self._adam_step(self.d_adam, [w for pair in self.D for w in pair], grads)
        return loss, accuracy

    def combined_step(self, noise):
        """`combined.train_on_batch(noise, ones)` with D frozen: the loss before the update."""
        h, cache = noise, []
        for k, (W, b) in enumerate(self.G):
            z = np.matmul(h, W)
            z += b
            if k < 3:
                a = self._lrelu(z)
                gamma, beta, mm, mv = self.bn[k]
                mean, var = self._norm.batch_moments(a)
                inv_std = 1.0 / np.sqrt(var + self.epsilon)
                scale = inv_std * gamma
                y, xhat = self._norm.batch_norm_apply(a, mean, inv_std, scale, beta - mean * scale)
                mm[...] = mm * self.momentum + mean * self.one_minus_momentum
                mv[...] = mv * self.momentum + var * self.one_minus_momentum
                cache.append((h, z, xhat, scale))
            else:
                y = np.tanh(z)
                cache.append((h, z, y, None))
            h = y
        _, d_cache = self._d_forward(h)
        loss, dz = self._bce(np.ones((len(noise), 1), np.float32), d_cache[2][1])
        _, dx = self._d_backward(dz, d_cache, learn=False)
        grads = []
        for k in (3, 2, 1, 0):
            h, z, saved, scale = cache[k]
            if k == 3:
                dz = dx * (1.0 - saved * saved)
            else:
                da, dbeta, dgamma = self._norm.batch_norm_grads(dx, saved, scale, True)
                dz = self._lrelu_backward(da, z)
            layer = [h.T @ dz, np.add.reduce(dz, axis=0)] + ([dgamma, dbeta] if k < 3 else [])
            grads[:0] = layer
            dx = dz @ self.G[k][0].T if k > 0 else None
        self._adam_step(self.g_adam, self._g_trainable, grads)
        return loss

    def step(self, real, fake, noise):
        """The benchmark's three calls: (D loss on real, D loss on fakes, combined loss)."""
        ones, zeros = np.ones(len(real), np.float32), np.zeros(len(fake), np.float32)
        return self.d_step(real, ones)[0], self.d_step(fake, zeros)[0], self.combined_step(noise)

    def weights(self) -> tuple[list, list]:
        """(generator weights, discriminator weights) in Keras' `get_weights()` order."""
        g = []
        for k in range(4):
            g += self.G[k] + (self.bn[k] if k < 3 else [])
        return g, [w for pair in self.D for w in pair]
