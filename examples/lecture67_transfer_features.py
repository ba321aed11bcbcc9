"""Lecture 67: transfer learning, approach 2: a frozen pretrained CNN body as a feature
extractor, then logistic regression on the features, on scratch.

The course runs VGG16's ImageNet body (`include_top=False`) over Food-5K; with no ImageNet
weights and no download here, the "pretrained" body is a small CNN trained first on
scikit-learn's digits 0–4, and the new task is a different one: telling odd from even among
the unseen digits 5–9 (food vs non-food in the course). From there the code is the course's:
`Model(inputs=ptm.input, outputs=Flatten()(ptm.output))`, features computed batch by batch
from an `ImageDataGenerator` (`flow` over arrays instead of `flow_from_directory`), a
StandardScaler, scikit-learn's LogisticRegression, and the same logistic regression as a
Dense(1, sigmoid) model.

Math:
    body f: image → z = f(x) ∈ R^D (frozen: computed once, outside the training loop);
    head: p = σ(w·z + b), binary cross-entropy; the two-part computation of Lecture 65.

Shapes:
    images (N, 8, 8, 1) → body (N, 4, 4, 32) → Flatten → features (N, 512) → (N, 1).

Writes ``transfer_pretrain_accuracy.png``, ``transfer_logreg_loss.png`` and
``transfer_logreg_accuracy.png`` to ``--out``; prints scikit-learn's scores next to the
scratch model's.
Run: ``python examples/lecture67_transfer_features.py [--epochs 10] [--out out]``.
"""

import numpy as np
from _common import parse_args, plt, save
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import scratch
from scratch.datasets import load_digits_split
from scratch.layers import Conv2D, Dense, Flatten, Input
from scratch.models import Model
from scratch.preprocessing.image import ImageDataGenerator

args = parse_args("Lecture 67: frozen CNN features + logistic regression", epochs=10)
scratch.utils.set_random_seed(67)

(x_all, y_all), (x_val_all, y_val_all) = load_digits_split()
x_all, x_val_all = x_all[..., None], x_val_all[..., None]  # (N, 8, 8, 1)

# ---- the "pretrained model": a CNN body trained on digits 0-4 (ImageNet's role)
old = y_all < 5
i = Input(shape=(8, 8, 1))
h = Conv2D(16, 3, padding="same", activation="relu")(i)
h = Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)
ptm = Model(i, h)  # the body, "include_top=False"
top = Dense(5, activation="softmax")(Flatten()(ptm(i)))
pretraining = Model(i, top)
pretraining.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                    metrics=["accuracy"])
r0 = pretraining.fit(x_all[old], y_all[old], epochs=args.epochs, verbose=0,
                     validation_data=(x_val_all[y_val_all < 5], y_val_all[y_val_all < 5]))
print(f"pretrained body: val_accuracy on digits 0-4 = {r0.history['val_accuracy'][-1]:.3f}")
plt.plot(r0.history["accuracy"], label="acc")
plt.plot(r0.history["val_accuracy"], label="val_acc")
plt.legend()
save("transfer_pretrain_accuracy")

# ---- the new task: odd vs even among the digits 5-9, never seen by the body
new, new_val = y_all >= 5, y_val_all >= 5
x_train, labels_train = x_all[new], (y_all[new] % 2).astype(float)
x_valid, labels_valid = x_val_all[new_val], (y_val_all[new_val] % 2).astype(float)

# map the data into feature vectors
x = Flatten()(ptm.output)

# create a model object
model = Model(inputs=ptm.input, outputs=x)

# view the structure of the model
model.summary()

# create an instance of ImageDataGenerator (no augmentation: approach 2)
gen = ImageDataGenerator()
batch_size = 128

# create generators (the course: flow_from_directory(..., class_mode='binary'))
train_generator = gen.flow(x_train, labels_train, batch_size=batch_size, shuffle=False)
valid_generator = gen.flow(x_valid, labels_valid, batch_size=batch_size, shuffle=False)

Ntrain = len(x_train)
Nvalid = len(x_valid)

# Figure out the output size
feat = model.predict(np.random.random([1, 8, 8, 1]), verbose=0)  # noqa: NPY002
D = feat.shape[1]

X_train = np.zeros((Ntrain, D))
Y_train = np.zeros(Ntrain)
X_valid = np.zeros((Nvalid, D))
Y_valid = np.zeros(Nvalid)

# populate X_train and Y_train
i = 0
for x, y in train_generator:
    # get features
    features = model.predict(x, verbose=0)
    # size of the batch (may not always be batch_size)
    sz = len(y)
    # assign to X_train and Y_train
    X_train[i:i + sz] = features
    Y_train[i:i + sz] = y
    # increment i
    i += sz
    print(i)
    if i >= Ntrain:
        print("breaking now")
        break
print(i)

# populate X_valid and Y_valid
i = 0
for x, y in valid_generator:
    features = model.predict(x, verbose=0)
    sz = len(y)
    X_valid[i:i + sz] = features
    Y_valid[i:i + sz] = y
    i += sz
    if i >= Nvalid:
        print("breaking now")
        break
print(i)

print("feature range:", X_train.max(), X_train.min())

scaler = StandardScaler()
X_train2 = scaler.fit_transform(X_train)
X_valid2 = scaler.transform(X_valid)

# Try the built-in logistic regression
logr = LogisticRegression(max_iter=1000)
logr.fit(X_train2, Y_train)
sk_train, sk_valid = logr.score(X_train2, Y_train), logr.score(X_valid2, Y_valid)
print("scikit-learn LogisticRegression: train", sk_train, "valid", sk_valid)

# Do logistic regression in scratch
i = Input(shape=(D,))
x = Dense(1, activation="sigmoid")(i)

linearmodel = Model(i, x)

linearmodel.compile(
    loss="binary_crossentropy",
    optimizer="adam",
    metrics=["accuracy"],
)

# Can try both normalized and unnormalized data
r = linearmodel.fit(
    X_train2,
    Y_train,
    batch_size=128,
    epochs=args.epochs,
    validation_data=(X_valid2, Y_valid),
    verbose=2,
)

# loss
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.legend()
save("transfer_logreg_loss")

# accuracies
plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.legend()
save("transfer_logreg_accuracy")

print(f"scratch logistic regression: train {r.history['accuracy'][-1]:.4f} "
      f"valid {r.history['val_accuracy'][-1]:.4f}; scikit-learn: train {sk_train:.4f} "
      f"valid {sk_valid:.4f}")
