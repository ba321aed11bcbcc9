"""Lecture 59: spam detection with a text CNN (Embedding → Conv1D/MaxPooling1D → global max),
on scratch.

The course notebook with its imports changed (``scratch`` instead of ``tensorflow.keras``)
and the data read with the csv module instead of pandas (examples/data/spam.csv, the
course's layout; see `load_spam`). Only the model differs from Lecture 57.

Math (Lecture 58):
    word vectors x_t = E[id_t] ∈ R^D; a 1-D convolution slides a (3, D, F) filter along
    time: y[t, f] = Σ_τ Σ_d x[t + τ, d] · w[τ, d, f] + b[f]; MaxPooling1D(3) keeps the max
    of each 3 steps; the time axis shrinks while the features grow (32 → 64 → 128);
    GlobalMaxPooling1D: max over the remaining steps; Dense(1, sigmoid): p(spam).

Shapes:
    (N, T) → (N, T, 20) → (N, T−2, 32) → (N, ⌊(T−2)/3⌋, 32) → ... → (N, 128) → (N, 1).
    T (the longest training message) must be at least 26 for the three valid convolutions.

Writes ``text_cnn_loss.png`` and ``text_cnn_accuracy.png`` to ``--out``.
Run: ``python examples/lecture59_text_cnn.py [--epochs 5] [--out out]``.
"""


from _common import load_spam, parse_args, plt, save
from sklearn.model_selection import train_test_split

import scratch
from scratch.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, Input, MaxPooling1D
from scratch.models import Model
from scratch.preprocessing.sequence import pad_sequences
from scratch.preprocessing.text import Tokenizer

args = parse_args("Lecture 59: text classification with a CNN", epochs=5)
scratch.utils.set_random_seed(59)


# read the data (the course: pandas; labels ham → 0, spam → 1)
data, Y = load_spam()

# split up the data
df_train, df_test, Ytrain, Ytest = train_test_split(data, Y, test_size=0.33,
                                                    random_state=59)

# convert sentences to sequences
MAX_VOCAB_SIZE = 20000
tokenizer = Tokenizer(num_words=MAX_VOCAB_SIZE)
tokenizer.fit_on_texts(df_train)
sequences_train = tokenizer.texts_to_sequences(df_train)
sequences_test = tokenizer.texts_to_sequences(df_test)

# get word -> integer mapping
word2idx = tokenizer.word_index
V = len(word2idx)
print(f"Found {V} unique tokens.")

# pad sequences so that we get a N x T matrix
data_train = pad_sequences(sequences_train)
print("Shape of data train tensor:", data_train.shape)

# get sequence length
T = data_train.shape[1]

data_test = pad_sequences(sequences_test, maxlen=T)
print("Shape of data test tensor:", data_test.shape)

# create the model

# We get to choose embedding dimensionality
D = 20

# Note: we actually want the size of the embedding to be (V+1) x D,
# because the first index starts from 1 and not 0.
# Thus, if the final index of the embedding matrix is V,
# then it actually must have size V+1.

i = Input(shape=(T,))
x = Embedding(V + 1, D)(i)
x = Conv1D(32, 3, activation="relu")(x)
x = MaxPooling1D(3)(x)
x = Conv1D(64, 3, activation="relu")(x)
x = MaxPooling1D(3)(x)
x = Conv1D(128, 3, activation="relu")(x)
x = GlobalMaxPooling1D()(x)
x = Dense(1, activation="sigmoid")(x)

model = Model(i, x)

# Compile and fit
model.compile(
    loss="binary_crossentropy",
    optimizer="adam",
    metrics=["accuracy"],
)

print("Training model...")
r = model.fit(
    data_train,
    Ytrain,
    epochs=args.epochs,
    validation_data=(data_test, Ytest),
    verbose=2,
)

# Plot loss per iteration
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.legend()
save("text_cnn_loss")

# Plot accuracy per iteration
plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.legend()
save("text_cnn_accuracy")

print(f"final val_accuracy: {r.history['val_accuracy'][-1]:.4f} "
      f"(always predicting ham: {1 - Ytest.mean():.4f})")
