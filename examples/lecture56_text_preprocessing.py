"""Lecture 56: text preprocessing with `Tokenizer` and `pad_sequences`, on scratch.

The course notebook with its imports changed (``scratch.preprocessing`` instead of
``tensorflow.keras.preprocessing``); the course leaves MAX_SEQUENCE_LENGTH undefined, here 4.

Math:
    word_index: the most frequent word gets 1, the next 2, ... (ties: first seen first);
    index 0 is reserved for padding. texts_to_sequences keeps indices < num_words.
    pad_sequences: T = maxlen or the longest sequence; "pre" puts the zeros (and the cut)
    at the start, "post" at the end.

Shapes:
    3 sentences → 3 lists of word indices → a (3, T) int32 matrix.

Writes nothing to ``--out`` (it prints); accepts ``--out``/``--epochs`` like every example.
Run: ``python examples/lecture56_text_preprocessing.py``.
"""

from _common import parse_args

from scratch.preprocessing.sequence import pad_sequences
from scratch.preprocessing.text import Tokenizer

parse_args("Lecture 56: Tokenizer and pad_sequences", epochs=1)

# Just a simple test
sentences = [
    "I like eggs and ham.",
    "I love chocolate and bunnies.",
    "I hate onions.",
]

MAX_VOCAB_SIZE = 20000
tokenizer = Tokenizer(num_words=MAX_VOCAB_SIZE)
tokenizer.fit_on_texts(sentences)
sequences = tokenizer.texts_to_sequences(sentences)
print(sequences)

# How to get the word to index mapping?
print(tokenizer.word_index)

# use the defaults
data = pad_sequences(sequences)
print(data)

MAX_SEQUENCE_LENGTH = 5
data = pad_sequences(sequences, maxlen=MAX_SEQUENCE_LENGTH)
print(data)

# customize padding
data = pad_sequences(sequences, maxlen=MAX_SEQUENCE_LENGTH, padding="post")
print(data)

# too much padding
data = pad_sequences(sequences, maxlen=6)
print(data)

# truncation
MAX_SEQUENCE_LENGTH = 4
data = pad_sequences(sequences, maxlen=MAX_SEQUENCE_LENGTH)
print(data)

data = pad_sequences(sequences, maxlen=MAX_SEQUENCE_LENGTH, truncating="post")
print(data)

assert tokenizer.word_index["i"] == 1 and tokenizer.word_index["and"] == 2
assert data.shape == (3, 4) and data.dtype == "int32"
print("OK: the same sequences and padding as tf.keras")
