"""ImageDataGenerator / flow (Lecture 34): the same batches as tf.keras' legacy generator
for the same seed, reproducible without touching NumPy's global random state, the iterator
protocol fit() relies on, the transforms themselves, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratch.preprocessing import ImageDataGenerator
from scratch.preprocessing.image import apply_affine_transform
from tests.conftest import medium


@st.composite
def augment_configs(draw):
    shift = st.one_of(st.sampled_from([0.0, 0.1, 0.25]), st.integers(1, 3),
                      st.lists(st.integers(0, 3), min_size=1, max_size=3))
    return dict(
        rotation_range=draw(st.sampled_from([0, 10, 45])),
        width_shift_range=draw(shift), height_shift_range=draw(shift),
        shear_range=draw(st.sampled_from([0.0, 15.0])),
        zoom_range=draw(st.sampled_from([0.0, 0.2, [0.8, 1.1]])),
        channel_shift_range=draw(st.sampled_from([0.0, 0.1])),
        fill_mode=draw(st.sampled_from(["nearest", "constant", "reflect", "wrap"])),
        cval=draw(st.sampled_from([0.0, 0.5])),
        horizontal_flip=draw(st.booleans()), vertical_flip=draw(st.booleans()),
        rescale=draw(st.sampled_from([None, 0.5])),
        samplewise_center=draw(st.booleans()),
    )


@medium
@given(augment_configs(), st.integers(1, 5), st.booleans(), st.integers(0, 1000),
       st.sampled_from([1, 3]))
def test_flow_batches_equal_tf_keras(tf_keras, config, batch_size, shuffle, seed, channels):
    """Bit-identical batches (images and labels), across an epoch boundary."""
    rng = np.random.default_rng(seed)
    x = rng.random((7, 6, 5, channels)).astype(np.float32)
    y = np.arange(7)
    ours = ImageDataGenerator(**config).flow(x, y, batch_size=batch_size, shuffle=shuffle,
                                             seed=seed)
    theirs = tf_keras.preprocessing.image.ImageDataGenerator(**config).flow(
        x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    for _ in range(len(ours) + 2):
        (xa, ya), (xb, yb) = next(ours), next(theirs)
        np.testing.assert_array_equal(ya, yb)
        assert xa.dtype == xb.dtype == np.float32
        np.testing.assert_array_equal(xa, xb, err_msg=str(config))


def test_flow_is_reproducible_and_leaves_global_rng_alone():
    x = np.random.default_rng(0).random((10, 8, 8, 1))
    gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.2, horizontal_flip=True)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the legacy global state)
    first = [next(gen.flow(x, batch_size=4, seed=5)) for _ in range(1)]
    a = gen.flow(x, np.arange(10), batch_size=4, seed=5)
    b = gen.flow(x, np.arange(10), batch_size=4, seed=5)
    c = gen.flow(x, np.arange(10), batch_size=4, seed=6)
    batches_a, batches_b, batches_c = ([next(it) for _ in range(6)] for it in (a, b, c))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    for (xa, ya), (xb, yb) in zip(batches_a, batches_b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(p[0], q[0]) for p, q in zip(batches_a, batches_c))
    np.testing.assert_array_equal(first[0], batches_a[0][0])


def test_iterator_protocol():
    """len = ⌈N/batch⌉ (default steps_per_epoch); the last batch of a pass is partial; a new
    pass reshuffles; __getitem__ serves Keras' Sequence protocol; sample weights ride along."""
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    it = ImageDataGenerator().flow(x, np.arange(10), batch_size=4, seed=0,
                                   sample_weight=np.linspace(0, 1, 10))
    assert len(it) == 3 and iter(it) is it
    sizes, seen = [], []
    for _ in range(6):
        bx, by, bw = next(it)
        sizes.append(len(by))
        seen.append(by)
        np.testing.assert_array_equal(bx[:, 0, 0, 0], by)  # identity transform
        np.testing.assert_allclose(bw, np.linspace(0, 1, 10)[by])
    assert sizes == [4, 4, 2, 4, 4, 2]
    assert sorted(np.concatenate(seen[:3])) == list(range(10))
    assert not np.array_equal(np.concatenate(seen[:3]), np.concatenate(seen[3:]))
    assert len(it[2][0]) == 2
    no_shuffle = ImageDataGenerator().flow(x, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(next(no_shuffle)[:, 0, 0, 0], [0, 1, 2, 3])


def test_transforms():
    img = np.arange(12.0).reshape(3, 4, 1)
    flipped = ImageDataGenerator(horizontal_flip=True).apply_transform(
        img, {"flip_horizontal": True})
    np.testing.assert_array_equal(flipped[:, :, 0], img[:, ::-1, 0])
    # Keras 3.15's legacy quirk, reproduced for parity: `tx` (drawn from height_shift_range)
    # moves columns and `ty` (from width_shift_range) moves rows
    shifted = apply_affine_transform(img, tx=1, fill_mode="constant", cval=-1)
    np.testing.assert_array_equal(shifted[:, :, 0], np.c_[img[:, 1:, 0], -np.ones(3)])
    shifted = apply_affine_transform(img, ty=1, fill_mode="constant", cval=-1)
    np.testing.assert_array_equal(shifted[:, :, 0], np.r_[img[1:, :, 0], -np.ones((1, 4))])
    wide = ImageDataGenerator(width_shift_range=[2], fill_mode="constant", cval=-1)
    params = wide.get_random_transform((6, 6, 1), seed=0)
    assert (params["tx"], params["ty"]) == (0, -2)
    moved = wide.apply_transform(np.arange(36.0).reshape(6, 6, 1), params)[:, :, 0]
    np.testing.assert_array_equal(moved[2:], np.arange(24.0).reshape(4, 6))  # rows moved
    quarter = apply_affine_transform(np.arange(9.0).reshape(3, 3, 1), theta=90)
    np.testing.assert_allclose(quarter[:, :, 0], np.rot90(np.arange(9.0).reshape(3, 3)),
                               atol=1e-12)  # θ > 0 turns the image counter-clockwise
    zoom = ImageDataGenerator(zoom_range=0.5)
    assert zoom.zoom_range == [0.5, 1.5]
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    data = np.random.default_rng(0).random((20, 4, 4, 3)) * 5 + 2
    gen.fit(data)
    out = np.concatenate([b for b, _ in [next(gen.flow(data, np.zeros(20), batch_size=20,
                                                       shuffle=False))]])
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(fill_mode="mirror"), "fill_mode"),
    (dict(zoom_range=[1, 2, 3]), "zoom_range"),
    (dict(zca_whitening=True), "zca_whitening"),
    (dict(data_format="channels_first"), "channels_last"),
    (dict(width_shift_range=-0.1), "width_shift_range"),
    (dict(validation_split=1.5), "validation_split"),
])
def test_generator_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageDataGenerator(**kwargs)


def test_flow_errors():
    gen = ImageDataGenerator()
    with pytest.raises(ValueError, match=r"rank 4.*expand_dims"):
        gen.flow(np.zeros((5, 8, 8)))
    with pytest.raises(ValueError, match="same length"):
        gen.flow(np.zeros((5, 8, 8, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        gen.flow(np.zeros((5, 8, 8, 1)), batch_size=0)
    split = ImageDataGenerator(validation_split=0.2)
    y = np.tile([0, 1], 5)
    assert split.flow(np.zeros((10, 2, 2, 1)), y, subset="validation").n == 2
    assert split.flow(np.zeros((10, 2, 2, 1)), y, subset="training").n == 8
