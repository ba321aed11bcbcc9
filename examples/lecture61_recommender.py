"""Lecture 61: a recommender with two embeddings (users, movies), concatenated, on scratch.

The course notebook with its imports changed (``scratch`` instead of ``tensorflow.keras``)
and MovieLens-20M (20 million ratings, a 190 MB download) replaced by ratings generated from
latent user and movie factors, so the model has real structure to find; the ids are
arbitrary integers mapped to 0..N−1 as the course does with pandas' Categorical codes
(`np.unique(..., return_inverse=True)` here: the same sorted-category codes). `SGD(lr=...)`
is spelled `learning_rate=` as Keras 3 requires.

Math:
    data: user u has factors p_u ∈ R^3 and bias a_u, movie m has q_m and b_m;
    rating = clip(round₀.₅(3.5 + p_u·q_m + a_u + b_m + ε), 0.5, 5),  ε ~ N(0, 0.3²)
    model: r̂(u, m) = Dense(1)(relu(Dense(1024)([E_u[u] | E_m[m]])))  on centred ratings,
    loss = mean (r − r̂)²; the baseline r̂ = 0 (the training mean) has MSE = Var(r).

Shapes:
    user_ids, movie_ids (N,) → Embedding → (N, 1, K) → Flatten → (N, K) each →
    Concatenate → (N, 2K) → (N, 1024) → (N, 1); K = 10.

Writes ``recommender_loss.png`` to ``--out`` and prints the test MSE next to the baseline.
Run: ``python examples/lecture61_recommender.py [--epochs 25] [--out out]``.
"""

import numpy as np
from _common import parse_args, plt, save
from sklearn.utils import shuffle

import scratch
from scratch.layers import Concatenate, Dense, Embedding, Flatten, Input
from scratch.models import Model
from scratch.optimizers import SGD

args = parse_args("Lecture 61: recommender with user and movie embeddings", epochs=25)
scratch.utils.set_random_seed(61)


def make_ratings(n_users=2000, n_movies=500, n_ratings=60_000, seed=61):
    """(userId, movieId, rating) triples from latent factors, ids not numbered 0..N−1."""
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((n_users, 3)) * 0.7
    Q = rng.standard_normal((n_movies, 3)) * 0.7
    a = rng.standard_normal(n_users) * 0.4
    b = rng.standard_normal(n_movies) * 0.4
    u = rng.integers(0, n_users, n_ratings)
    m = rng.integers(0, n_movies, n_ratings)
    r = 3.5 + np.sum(P[u] * Q[m], axis=1) + a[u] + b[m] + 0.3 * rng.standard_normal(n_ratings)
    r = np.clip(np.round(r * 2) / 2, 0.5, 5.0)
    user_codes = np.sort(rng.choice(10**6, n_users, replace=False))  # arbitrary ids
    movie_codes = np.sort(rng.choice(10**5, n_movies, replace=False))
    return user_codes[u], movie_codes[m], r


userId, movieId, rating = make_ratings()
print("ratings:", len(rating), "first rows:",
      list(zip(userId[:3], movieId[:3], rating[:3], strict=True)))

# we can't trust the userId and movieId to be numbered 0...N-1
# let's just set our own ids (the course: pd.Categorical(df.userId).cat.codes)
_, user_ids = np.unique(userId, return_inverse=True)
_, movie_ids = np.unique(movieId, return_inverse=True)
ratings = rating

# Get number of users and number of movies
N = len(set(user_ids))
M = len(set(movie_ids))

# Set embedding dimension
K = 10

# Make a neural network

# User input
u = Input(shape=(1,))

# Movie input
m = Input(shape=(1,))

# User embedding
u_emb = Embedding(N, K)(u)  # output is (num_samples, 1, K)

# Movie embedding
m_emb = Embedding(M, K)(m)  # output is (num_samples, 1, K)

# Flatten both embeddings
u_emb = Flatten()(u_emb)  # now it's (num_samples, K)
m_emb = Flatten()(m_emb)  # now it's (num_samples, K)

# Concatenate user-movie embeddings into a feature vector
x = Concatenate()([u_emb, m_emb])  # now it's (num_samples, 2K)

# Now that we have a feature vector, it's just a regular ANN
x = Dense(1024, activation="relu")(x)
# x = Dense(400, activation='relu')(x)
# x = Dense(400, activation='relu')(x)
x = Dense(1)(x)

# Build the model and compile
model = Model(inputs=[u, m], outputs=x)
model.compile(
    loss="mse",
    optimizer=SGD(learning_rate=0.08, momentum=0.9),
)

# split the data
user_ids, movie_ids, ratings = shuffle(user_ids, movie_ids, ratings, random_state=61)
Ntrain = int(0.8 * len(ratings))
train_user = user_ids[:Ntrain]
train_movie = movie_ids[:Ntrain]
train_ratings = ratings[:Ntrain]

test_user = user_ids[Ntrain:]
test_movie = movie_ids[Ntrain:]
test_ratings = ratings[Ntrain:]

# center the ratings
avg_rating = train_ratings.mean()
train_ratings = train_ratings - avg_rating
test_ratings = test_ratings - avg_rating

r = model.fit(
    x=[train_user, train_movie],
    y=train_ratings,
    epochs=args.epochs,
    batch_size=1024,
    verbose=2,  # goes a little faster when you don't print the progress bar
    validation_data=([test_user, test_movie], test_ratings),
)

# plot losses
plt.plot(r.history["loss"], label="train loss")
plt.plot(r.history["val_loss"], label="val loss")
plt.legend()
save("recommender_loss")

test_mse = model.evaluate([test_user, test_movie], test_ratings, verbose=0)
print(f"test MSE: {test_mse:.4f}  (baseline, always the mean rating: "
      f"{np.mean(test_ratings ** 2):.4f}; noise floor about 0.09 + rounding)")

# recommendations for user 0: predicted ratings of every movie, best first
everything = np.arange(M)
pred = model.predict([np.zeros_like(everything), everything], verbose=0)[:, 0] + avg_rating
top = np.argsort(-pred)[:5]
print("top 5 movies for user 0:", top.tolist(), "predicted", np.round(pred[top], 2).tolist())
