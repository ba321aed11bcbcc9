"""benchmarks/gan_floor.py: the GAN step as a bare NumPy loop must be scratch's math exactly.

The GAN benchmark reports that loop as the floor under scratch's three `train_on_batch`
calls; the comparison only means something if the loop does the same work. On one BLAS
thread (two threads split a float32 GEMM differently) its losses and every weight, the
batch-norm moving statistics included, equal scratch's bit for bit after several steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratch
from scratch import _threads
from scratch.layers import BatchNormalization, Dense, Input, LeakyReLU
from scratch.models import Model

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def gan_floor():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gan_floor
    finally:
        sys.path.pop(0)
    return gan_floor


def _small_gan(latent=5, units=(8, 16, 32), d_units=(16, 8), features=12):
    """The course's GAN architecture (benchmarks/bench_nlp_gan.py) at small sizes."""
    i = Input(shape=(latent,))
    x = i
    for u in units:
        x = BatchNormalization(momentum=0.8)(Dense(u, activation=LeakyReLU(negative_slope=0.2))(x))
    generator = Model(i, Dense(features, activation="tanh")(x))
    j = Input(shape=(features,))
    y = j
    for u in d_units:
        y = Dense(u, activation=LeakyReLU(negative_slope=0.2))(y)
    discriminator = Model(j, Dense(1, activation="sigmoid")(y))
    return generator, discriminator


def _scratch_calls(generator, discriminator):
    """The benchmark's compile and Keras 3 toggling, as one callable per step."""
    discriminator.compile(loss="binary_crossentropy",
                          optimizer=scratch.optimizers.Adam(0.0002, 0.5), metrics=["accuracy"])
    z = Input(shape=generator.inputs[0].shape[1:])
    discriminator.trainable = False
    combined = Model(z, discriminator(generator(z)))
    combined.compile(loss="binary_crossentropy", optimizer=scratch.optimizers.Adam(0.0002, 0.5))

    def step(real, fake, noise):
        """[(loss, accuracy) on real, (loss, accuracy) on fakes, combined loss]."""
        n = len(real)
        discriminator.trainable = True
        on_real = discriminator.train_on_batch(real, np.ones(n))
        on_fake = discriminator.train_on_batch(fake, np.zeros(n))
        discriminator.trainable = False
        return [tuple(on_real), tuple(on_fake), combined.train_on_batch(noise, np.ones(n))]

    return step


def test_bare_gan_step_is_scratchs_three_calls_bit_for_bit(gan_floor):
    scratch.utils.set_random_seed(3)
    generator, discriminator = _small_gan()
    bare = gan_floor.BareGan(generator, discriminator)  # copies of the initial weights
    step = _scratch_calls(generator, discriminator)
    rng = np.random.default_rng(0)
    with _threads.scoped_blas_threads(1):
        for _ in range(4):
            real = np.tanh(rng.standard_normal((16, 12))).astype("float32")
            fake = np.tanh(rng.standard_normal((16, 12))).astype("float32")
            noise = rng.standard_normal((16, 5)).astype("float32")
            ours = step(real, fake, noise)
            n = len(real)
            floor = [bare.d_step(real, np.ones(n)), bare.d_step(fake, np.zeros(n)),
                     bare.combined_step(noise)]
            assert ours == floor
    g_weights, d_weights = bare.weights()
    for got, expected in zip(g_weights + d_weights,
                             generator.get_weights() + discriminator.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert bare.d_adam.rule.iterations == 8 and bare.g_adam.rule.iterations == 4


def test_gan_benchmark_prints_the_floor_row_without_tf(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCHMARKS.parent),
                                                      env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "bench_nlp_gan.py"), "--no-tf",
                           "--only", "gan", "--repeats", "1", "--steps", "1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = proc.stdout.splitlines()
    calls = next(i for i, row in enumerate(rows) if row.startswith("L69 GAN: 3 train_on_batch"))
    floor = rows[calls + 1]
    assert floor.strip().startswith("the same math as a bare NumPy loop"), proc.stdout
    assert " ms" in floor or " µs" in floor, floor


def test_the_floors_parts_count_the_products_and_the_adam_bytes(gan_floor):
    """`gemm_shapes` lists the three calls' products: their FLOPs equal `roof.model_flops`'
    count for the same calls; `part_timers` runs both parts and counts Adam's bytes."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from roof import model_flops
    finally:
        sys.path.pop(0)
    scratch.utils.set_random_seed(4)
    generator, discriminator = _small_gan()
    bare = gan_floor.BareGan(generator, discriminator)
    batch = 6
    discriminator.trainable = True
    d_step = model_flops(discriminator, batch)
    discriminator.trainable = False
    expected = (2 * d_step + model_flops(generator, batch)
                + model_flops(discriminator, batch, input_needs_grad=True))
    shapes = gan_floor.gemm_shapes(bare, batch)
    assert sum(2 * m * k * n for m, k, n in shapes) == expected
    parts = gan_floor.part_timers(bare, batch)
    d_weights = sum(w.size for w in discriminator.get_weights())
    g_trainable = sum(w.size for w in generator.trainable_weights)
    (gemm, flops, kind_g), (adam, nbytes, kind_a) = parts["gemm"], parts["adam"]
    assert (flops, kind_g, kind_a) == (expected, "flops", "bytes")
    assert nbytes == 7 * 4 * (2 * d_weights + g_trainable)
    before = [w.copy() for w in bare.d_adam.weights]
    gemm(), adam()
    assert bare.d_adam.rule._iterations == 2 and bare.g_adam.rule._iterations == 1
    assert all(not np.array_equal(a, b) for a, b in zip(before, bare.d_adam.weights))
