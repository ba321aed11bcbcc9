"""Lecture 69: a GAN that learns to draw digits, on scratch, written the way that works in
Keras 3.

The course notebook with two changes: scratch's imports instead of TensorFlow's, and the
discriminator's `trainable` flag set before each of its own steps and before each combined
step, instead of once. The data is the course's MNIST (`keras.datasets.mnist.load_data()`)
when Keras' cache holds it (``--download`` fetches it); otherwise, with a message,
scikit-learn's digits upsampled to 28×28 in MNIST's format (`_common.digits_as`), so every
line after the load is the course's.

Why the last change (the Keras 3 trap): the course sets `discriminator.trainable = False`
once, after compiling the discriminator, so that the combined model trains only the
generator. In Keras 2 the flag was baked into each model when it was compiled, so the
discriminator kept training in its own `train_on_batch`. In Keras 3 (and in scratch) a model
collects its trainable weights when it trains, not when it is compiled: after the flag is
cleared, `discriminator.train_on_batch` has nothing to train (Keras only warns "The model
does not have any trainable weights"), the discriminator stays random and the generator
learns nothing useful. Setting the flag right before each step gives each model the weights
it should train. (tf.keras reads the flag at a model's first train step after compile();
setting it before every step is right under either rule.)

Math (Lecture 68):
    D(x) = σ(…) is the probability that x is real; G(z) = tanh(…) maps noise z ~ N(0, I) to
    an image. D minimises −[log D(x) + log(1 − D(G(z)))] (labels 1 real, 0 fake); G
    minimises −log D(G(z)) through the combined model D(G(z)) with D frozen (labels 1).

Shapes:
    images (N, 784) in [−1, 1]; noise (batch, 100) → G → (batch, 784) → D → (batch, 1).

Writes ``gan_images/<step>.png`` (a 5×5 grid of samples) every 200 steps and after the
last one, and ``gan_losses.png``, to ``--out``.
Run: ``python examples/lecture69_gan_digits.py [--epochs 30000] [--out out] [--download]``; the
course's 30,000 steps take a while; ``--epochs`` is the number of steps.
"""

import os

import numpy as np
from _common import dataset_available, digits_as, parse_args, plt, save

import scratch
from scratch.layers import BatchNormalization, Dense, Input, LeakyReLU
from scratch.models import Model
from scratch.optimizers import Adam

args = parse_args("Lecture 69: GAN on MNIST (or digits)", epochs=30000, download=True)
scratch.utils.set_random_seed(69)

# Load in the data
if dataset_available("mnist", args.download):
    mnist = scratch.datasets.mnist
else:  # the digits in MNIST's format (uint8 28x28 images)
    mnist = digits_as("mnist")

(x_train, y_train), (x_test, y_test) = mnist.load_data()

# map inputs to (-1, +1) for better training
x_train, x_test = x_train / 255.0 * 2 - 1, x_test / 255.0 * 2 - 1
print("x_train.shape:", x_train.shape)

# Flatten the data
N, H, W = x_train.shape
D = H * W
x_train = x_train.reshape(-1, D)
x_test = x_test.reshape(-1, D)

# Dimensionality of the latent space
latent_dim = 100


# Get the generator model
def build_generator(latent_dim):
    i = Input(shape=(latent_dim,))
    x = Dense(256, activation=LeakyReLU(alpha=0.2))(i)
    x = BatchNormalization(momentum=0.8)(x)
    x = Dense(512, activation=LeakyReLU(alpha=0.2))(x)
    x = BatchNormalization(momentum=0.8)(x)
    x = Dense(1024, activation=LeakyReLU(alpha=0.2))(x)
    x = BatchNormalization(momentum=0.8)(x)
    x = Dense(D, activation="tanh")(x)

    model = Model(i, x)
    return model


# Get the discriminator model
def build_discriminator(img_size):
    i = Input(shape=(img_size,))
    x = Dense(512, activation=LeakyReLU(alpha=0.2))(i)
    x = Dense(256, activation=LeakyReLU(alpha=0.2))(x)
    x = Dense(1, activation="sigmoid")(x)
    model = Model(i, x)
    return model


# Compile both models in preparation for training

# Build and compile the discriminator
discriminator = build_discriminator(D)
discriminator.compile(
    loss="binary_crossentropy",
    optimizer=Adam(0.0002, 0.5),
    metrics=["accuracy"])

# Build and compile the combined model
generator = build_generator(latent_dim)

# Create an input to represent noise sample from latent space
z = Input(shape=(latent_dim,))

# Pass noise through generator to get an image
img = generator(z)

# Make sure only the generator is trained (in the combined model)
discriminator.trainable = False

# The true output is fake, but we label them real!
fake_pred = discriminator(img)

# Create the combined model object
combined_model = Model(z, fake_pred)

# Compile the combined model
combined_model.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5))

# Train the GAN

# Config
batch_size = 32
epochs = args.epochs
sample_period = 200  # every `sample_period` steps generate and save some data

# Create batch labels to use when calling train_on_batch
ones = np.ones(batch_size)
zeros = np.zeros(batch_size)

# Store the losses
d_losses = []
g_losses = []

# Create a folder to store generated images
if not os.path.exists(args.out / "gan_images"):
    os.makedirs(args.out / "gan_images")


# A function to generate a grid of random samples from the generator
# and save them to a file
def sample_images(epoch):
    rows, cols = 5, 5
    noise = np.random.randn(rows * cols, latent_dim)  # noqa: NPY002 (the course's RNG)
    imgs = generator.predict(noise, verbose=0)

    # Rescale images 0 - 1
    imgs = 0.5 * imgs + 0.5

    fig, axs = plt.subplots(rows, cols)
    idx = 0
    for i in range(rows):
        for j in range(cols):
            axs[i, j].imshow(imgs[idx].reshape(H, W), cmap="gray")
            axs[i, j].axis("off")
            idx += 1
    save(f"gan_images/{epoch}", fig)


# Main training loop
for epoch in range(epochs):
    ###########################
    ### Train discriminator ###
    ###########################

    # Select a random batch of images
    idx = np.random.randint(0, x_train.shape[0], batch_size)  # noqa: NPY002
    real_imgs = x_train[idx]

    # Generate fake images
    noise = np.random.randn(batch_size, latent_dim)  # noqa: NPY002
    fake_imgs = generator.predict(noise, verbose=0)

    # Train the discriminator (Keras 3: its weights must be trainable for its own steps)
    discriminator.trainable = True
    # both loss and accuracy are returned
    d_loss_real, d_acc_real = discriminator.train_on_batch(real_imgs, ones)
    d_loss_fake, d_acc_fake = discriminator.train_on_batch(fake_imgs, zeros)
    d_loss = 0.5 * (d_loss_real + d_loss_fake)
    d_acc = 0.5 * (d_acc_real + d_acc_fake)

    #######################
    ### Train generator ###
    #######################

    # (Keras 3: frozen again, so the combined step trains only the generator)
    discriminator.trainable = False
    noise = np.random.randn(batch_size, latent_dim)  # noqa: NPY002
    g_loss = combined_model.train_on_batch(noise, ones)

    # Save the losses
    d_losses.append(d_loss)
    g_losses.append(g_loss)

    if epoch % 100 == 0:
        print(f"epoch: {epoch + 1}/{epochs}, d_loss: {d_loss:.2f}, "
              f"d_acc: {d_acc:.2f}, g_loss: {g_loss:.2f}")

    if epoch % sample_period == 0:
        sample_images(epoch)

sample_images(epochs)
plt.plot(g_losses, label="g_losses")
plt.plot(d_losses, label="d_losses")
plt.legend()
save("gan_losses")
