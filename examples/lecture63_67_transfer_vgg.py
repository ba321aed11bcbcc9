"""Lectures 63–67: transfer learning with VGG16 on a folder of images, both approaches, on
scratch.

The course fine-tunes VGG16's ImageNet body on Food-5K (food vs non-food photos in class
folders). Here the folder is generated (``<out>/food_vs_nonfood/{train,valid}/{food,nonfood}``:
warm round blobs vs cool stripes, as JPEGs) and the body's weights are random
(``weights=None``) unless ``--weights PATH`` names a weight file (Keras' own
``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` from ``~/.keras/models``, or weights
saved from tf.keras). ``--weights imagenet`` reads that file from Keras' cache (and
downloads it if missing, the only time this example would touch the network). From there the
code is the course's:

* Approach 1 (Lectures 64–66): the body frozen (``ptm.trainable = False``), a new head
  ``Flatten → Dense(K, softmax)`` trained on augmented batches from
  ``ImageDataGenerator(..., preprocessing_function=preprocess_input).flow_from_directory``.
* Approach 2 (Lecture 67): the frozen body's features computed once
  (``flow_from_directory(..., class_mode="binary", shuffle=False)``), then a logistic
  regression (scikit-learn's, and the same as a Dense(1, sigmoid) scratch model).

One difference from the course: scratch's ``fit`` takes a generator for the training data but
not for ``validation_data``, so the validation batches are read into arrays first.

Math:
    body f (13 frozen 3×3 ReLU convolutions, 5 max-poolings): x (32, 32, 3) → z = f(x) (1, 1, 512)
    approach 1: p = softmax(W·flatten(z) + b), categorical cross-entropy on the head only;
    approach 2: p = σ(w·z' + b) on standardized features z', binary cross-entropy.

Writes ``transfer_vgg_loss.png``, ``transfer_vgg_accuracy.png`` and
``transfer_vgg_logreg_loss.png`` to ``--out``.
Run: ``python examples/lecture63_67_transfer_vgg.py [--epochs 5] [--out out] [--weights PATH]``.
"""

import sys
from glob import glob

import numpy as np
from _common import parse_args, plt, save
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import scratch
from scratch.applications.vgg16 import VGG16, preprocess_input
from scratch.layers import Dense, Flatten, Input
from scratch.models import Model
from scratch.preprocessing.image import ImageDataGenerator

weights = None
if "--weights" in sys.argv:   # the example's own option, before the shared ones are parsed
    at = sys.argv.index("--weights")
    weights = sys.argv[at + 1]
    del sys.argv[at:at + 2]
args = parse_args("Lectures 63-67: transfer learning with VGG16 on an image folder", epochs=5)
scratch.utils.set_random_seed(63)


# ---- the data: a folder of class folders, as Food-5K after the course's reorganization
def make_folder(root, n_train=24, n_valid=8, size=40, seed=0):
    """JPEGs of two classes: food (warm blobs) and nonfood (cool stripes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for split, n in (("train", n_train), ("valid", n_valid)):
        for label in ("food", "nonfood"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.uniform(0, 60, (size, size, 3))
                if label == "food":
                    cy, cx, r = rng.uniform(10, 30, 2).tolist() + [rng.uniform(6, 14)]
                    blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
                    img[blob] += [rng.uniform(150, 195), rng.uniform(60, 120), 20]
                else:
                    period = rng.integers(4, 9)
                    stripes = (xx + rng.integers(0, period)) % period < period // 2
                    img[stripes] += [20, rng.uniform(60, 120), rng.uniform(150, 195)]
                scratch.utils.save_img(root / split / label / f"{i}.jpg", img, scale=False)


data = args.out / "food_vs_nonfood"
make_folder(data)
train_path, valid_path = str(data / "train"), str(data / "valid")
image_files = glob(train_path + "/*/*.jpg")
valid_image_files = glob(valid_path + "/*/*.jpg")
folders = glob(train_path + "/*")
IMAGE_SIZE = [32, 32]   # the course: [200, 200]; VGG16's smallest input is 32×32
batch_size = 8

# ---- approach 1: frozen body, new head, augmentation
ptm = VGG16(input_shape=IMAGE_SIZE + [3], weights=weights, include_top=False)
ptm.trainable = False   # freeze pretrained model weights

K = len(folders)   # number of classes
x = Flatten()(ptm.output)
x = Dense(K, activation="softmax")(x)
model = Model(inputs=ptm.input, outputs=x)
model.summary()

gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,
                         shear_range=0.1, zoom_range=0.2, horizontal_flip=True,
                         vertical_flip=True, preprocessing_function=preprocess_input)
train_generator = gen.flow_from_directory(train_path, shuffle=True, target_size=IMAGE_SIZE,
                                          batch_size=batch_size)
valid_generator = gen.flow_from_directory(valid_path, target_size=IMAGE_SIZE,
                                          batch_size=batch_size, shuffle=False)
valid_batches = [valid_generator[i] for i in range(len(valid_generator))]
valid_data = tuple(np.concatenate(part) for part in zip(*valid_batches))

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
r = model.fit(train_generator, validation_data=valid_data, epochs=args.epochs,
              steps_per_epoch=int(np.ceil(len(image_files) / batch_size)), verbose=2)
print(f"approach 1 (frozen VGG16 + new head): final val_accuracy = "
      f"{r.history['val_accuracy'][-1]:.3f}")

plt.plot(r.history["loss"], label="train loss")
plt.plot(r.history["val_loss"], label="val loss")
plt.legend()
save("transfer_vgg_loss")
plt.plot(r.history["accuracy"], label="train acc")
plt.plot(r.history["val_accuracy"], label="val acc")
plt.legend()
save("transfer_vgg_accuracy")

# ---- approach 2: features computed once, then logistic regression
body = Model(inputs=ptm.input, outputs=Flatten()(ptm.output))
plain = ImageDataGenerator(preprocessing_function=preprocess_input)


def features(path):
    generator = plain.flow_from_directory(path, target_size=IMAGE_SIZE, batch_size=batch_size,
                                          class_mode="binary", shuffle=False)
    feats, labels = [], []
    for i in range(len(generator)):
        xb, yb = generator[i]
        feats.append(body.predict(xb, verbose=0))
        labels.append(yb)
    return np.concatenate(feats), np.concatenate(labels)


X_train, Y_train = features(train_path)
X_valid, Y_valid = features(valid_path)
print("features:", X_train.shape)
scaler = StandardScaler()
X_train2 = scaler.fit_transform(X_train)
X_valid2 = scaler.transform(X_valid)

logr = LogisticRegression(max_iter=1000)
logr.fit(X_train2, Y_train)
print(f"approach 2, scikit-learn LogisticRegression: train {logr.score(X_train2, Y_train):.3f}, "
      f"valid {logr.score(X_valid2, Y_valid):.3f}")

i = Input(shape=(X_train2.shape[1],))
head = Model(i, Dense(1, activation="sigmoid")(i))
head.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
r2 = head.fit(X_train2, Y_train, batch_size=16, epochs=10 * args.epochs,
              validation_data=(X_valid2, Y_valid), verbose=0)
print(f"approach 2, scratch logistic regression: val_accuracy = "
      f"{r2.history['val_accuracy'][-1]:.3f}")
plt.plot(r2.history["loss"], label="train loss")
plt.plot(r2.history["val_loss"], label="val loss")
plt.legend()
save("transfer_vgg_logreg_loss")
