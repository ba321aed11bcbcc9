"""Lecture 25: a dense network (ANN) for regression of a 2-D function, on scratch.

The course notebook with one change: ``import scratch as keras`` instead of TensorFlow.

Math:
    y = cos(2·x₁) + cos(3·x₂),  x uniform in [−3, 3]²;
    ŷ = relu(x·W₁ + b₁)·W₂ + b₂,  L = mean((y − ŷ)²), Adam with learning rate 0.01.

Shapes:
    X (N=1000, 2), Y (N,); W₁ (2, 128), W₂ (128, 1); the prediction grid (2500, 2).

Writes ``regression_data.png``, ``regression_loss.png``, ``regression_surface.png`` (the fitted
surface over the training range) and ``regression_extrapolation.png`` (over [−5, 5]², where a
ReLU network cannot follow the periodic function) to ``--out``.
Run: ``python examples/lecture25_regression_surface.py [--epochs 100] [--out out]``.
"""

import numpy as np
from _common import parse_args, plt, save
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the 3-D projection)

import scratch as keras

args = parse_args("Lecture 25: regression of cos(2x1) + cos(3x2)", epochs=100)
keras.utils.set_random_seed(0)

# Make the dataset
N = 1000
# the course uses NumPy's global RNG (seeded above by set_random_seed)
X = np.random.random((N, 2)) * 6 - 3  # noqa: NPY002  uniform between (-3, +3)
Y = np.cos(2 * X[:, 0]) + np.cos(3 * X[:, 1])  # y = cos(2x1) + cos(3x2)

# Plot it
fig = plt.figure()
ax = fig.add_subplot(111, projection="3d")
ax.scatter(X[:, 0], X[:, 1], Y)
save("regression_data", fig)

# Build the model
model = keras.models.Sequential([
    keras.layers.Dense(128, input_shape=(2,), activation="relu"),
    keras.layers.Dense(1),
])

# Compile and fit
opt = keras.optimizers.Adam(0.01)
model.compile(optimizer=opt, loss="mse")
r = model.fit(X, Y, epochs=args.epochs, verbose=0)
print(f"final loss after {args.epochs} epochs: {r.history['loss'][-1]:.4f}")

# Plot the loss
plt.plot(r.history["loss"], label="loss")
plt.xlabel("epoch")
plt.legend()
save("regression_loss")

# Plot the prediction surface
fig = plt.figure()
ax = fig.add_subplot(111, projection="3d")
ax.scatter(X[:, 0], X[:, 1], Y)

# surface plot
line = np.linspace(-3, 3, 50)
xx, yy = np.meshgrid(line, line)
Xgrid = np.vstack((xx.flatten(), yy.flatten())).T
Yhat = model.predict(Xgrid, verbose=0).flatten()
ax.plot_trisurf(Xgrid[:, 0], Xgrid[:, 1], Yhat, linewidth=0.2, antialiased=True)
save("regression_surface", fig)

# Can it extrapolate?
# Plot the prediction surface
fig = plt.figure()
ax = fig.add_subplot(111, projection="3d")
ax.scatter(X[:, 0], X[:, 1], Y)

# surface plot
line = np.linspace(-5, 5, 50)
xx, yy = np.meshgrid(line, line)
Xgrid = np.vstack((xx.flatten(), yy.flatten())).T
Yhat = model.predict(Xgrid, verbose=0).flatten()
ax.plot_trisurf(Xgrid[:, 0], Xgrid[:, 1], Yhat, linewidth=0.2, antialiased=True)
save("regression_extrapolation", fig)
