"""Lecture 57: spam detection with Embedding → LSTM → GlobalMaxPooling1D, on scratch.

The course notebook with its imports changed (``scratch`` instead of ``tensorflow.keras``)
and the data read with the csv module instead of pandas (examples/data/spam.csv, the
course's layout; see `load_spam`).

Math:
    ids x ∈ {0..V}^T (0 = padding) → Embedding: E[x_t] ∈ R^D → LSTM(M, return_sequences):
    h_t ∈ R^M for every t → GlobalMaxPooling1D: max_t h_t → Dense(1, sigmoid): p(spam);
    loss: binary cross-entropy, Adam.

Shapes:
    data_train (N, T) int32 → (N, T, D) → (N, T, M) → (N, M) → (N, 1); D = 20, M = 15.

Writes ``text_lstm_loss.png`` and ``text_lstm_accuracy.png`` to ``--out``.
Run: ``python examples/lecture57_text_lstm.py [--epochs 10] [--out out]``.
"""


from _common import load_spam, parse_args, plt, save
from sklearn.model_selection import train_test_split

import scratch
from scratch.layers import LSTM, Dense, Embedding, GlobalMaxPooling1D, Input
from scratch.models import Model
from scratch.preprocessing.sequence import pad_sequences
from scratch.preprocessing.text import Tokenizer

args = parse_args("Lecture 57: text classification with an LSTM", epochs=10)
scratch.utils.set_random_seed(57)


# read the data (the course: pd.read_csv('spam.csv', encoding='ISO-8859-1'), then it drops
# the unnamed columns and maps the labels ham → 0, spam → 1)
data, Y = load_spam()

# split up the data
df_train, df_test, Ytrain, Ytest = train_test_split(data, Y, test_size=0.33,
                                                    random_state=57)

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

# Hidden state dimensionality
M = 15

# Note: we actually want the size of the embedding to be (V+1) x D,
# because the first index starts from 1 and not 0.
# Thus, if the final index of the embedding matrix is V,
# then it actually must have size V+1.

i = Input(shape=(T,))
x = Embedding(V + 1, D)(i)
x = LSTM(M, return_sequences=True)(x)
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
save("text_lstm_loss")

# Plot accuracy per iteration
plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.legend()
save("text_lstm_accuracy")

print(f"final val_accuracy: {r.history['val_accuracy'][-1]:.4f} "
      f"(always predicting ham: {1 - Ytest.mean():.4f})")
