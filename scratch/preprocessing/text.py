"""Keras 2's text preprocessing (course Lectures 55–56): `Tokenizer` and `text_to_word_sequence`.

    from scratch.preprocessing.text import Tokenizer
    tokenizer = Tokenizer(num_words=20000)
    tokenizer.fit_on_texts(sentences)
    sequences = tokenizer.texts_to_sequences(sentences)   # lists of word indices, from 1

The semantics are exactly those of `tf.keras.preprocessing.text` in Keras 2 (the `tf_keras`
package), which the course uses and the tests compare against; Keras 3 dropped this module.
Index 0 is never assigned: it is the padding value of `pad_sequences` and the masked id of
`Embedding(mask_zero=True)`.
"""

from __future__ import annotations

import collections
import json
import warnings
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["Tokenizer", "text_to_word_sequence", "tokenizer_from_json"]

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(input_text: str, filters: str = DEFAULT_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Split a text into words: lower-case it, turn every filter character into `split`,
    split on `split` and drop empty strings (Keras 2's function).

    Math:
        words = [w for w in translate(lower(text), {c ↦ split : c ∈ filters}).split(split)
                 if w]

    Args:
        input_text: the text.
        filters: characters to remove (default: ASCII punctuation except `'`, tab, newline).
        lower: lower-case first (Python's `str.lower`, unicode-aware).
        split: the separator.

    Shapes:
        str → list of str.
    """
    if not isinstance(input_text, str):
        raise TypeError(f"text_to_word_sequence expected a string. Received: "
                        f"input_text of type {type(input_text).__name__}")
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


class Tokenizer:
    """Map words to integer indices by frequency (Keras 2's `Tokenizer`).

    `fit_on_texts` counts the words; the most frequent gets index 1, the next 2, ...
    (ties keep the order of first appearance; with an `oov_token`, it takes index 1).
    `texts_to_sequences` replaces each word by its index, keeping only indices
    < num_words (the `num_words − 1` most frequent words); unknown or rare words are
    dropped, or replaced by the oov_token's index if there is one.

    Math:
        word_index[w] = 1 + rank of w by count (descending; stable)   (+1 with oov_token)
        sequence(text) = [word_index[w] for w in words(text)
                          if w ∈ word_index and (num_words is None or word_index[w] < num_words)]

    Args:
        num_words: keep only indices below this (None: all words). Note Keras' off-by-one:
            `num_words=V` keeps V − 1 words.
        filters: characters removed from the texts (see `text_to_word_sequence`).
        lower: lower-case the texts.
        split: word separator.
        char_level: every character is a token.
        oov_token: a token added to `word_index` (index 1) for unknown words.
        analyzer: optional callable text → list of tokens, replacing the default split.

    Attributes:
        word_index (dict word → index), index_word (index → word), word_counts (ordered
        dict word → count), word_docs (word → number of texts containing it), index_docs
        (index → that count), document_count (texts seen).

    Shapes:
        texts: a list (or iterable) of strings, or of token lists → list of int lists.
    """

    def __init__(self, num_words: int | None = None, filters: str = DEFAULT_FILTERS,
                 lower: bool = True, split: str = " ", char_level: bool = False,
                 oov_token: str | None = None, analyzer: Callable | None = None, **kwargs):
        if "nb_words" in kwargs:
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed "
                          "`num_words`.", UserWarning, stacklevel=2)
            num_words = kwargs.pop("nb_words")
        document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        if num_words is not None and (isinstance(num_words, bool) or not isinstance(
                num_words, (int, np.integer)) or num_words < 0):
            raise ValueError(f"`num_words` must be None or a non-negative integer. "
                             f"Received: num_words={num_words!r}")
        self.word_counts: collections.OrderedDict[str, int] = collections.OrderedDict()
        self.word_docs: collections.defaultdict[str, int] = collections.defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs: collections.defaultdict[int, int] = collections.defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.analyzer = analyzer

    # ----------------------------------------------------------------- tokens
    def _tokens(self, text) -> list:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        if self.analyzer is not None:
            return self.analyzer(text)
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expected texts as strings (or lists of tokens). "
                            f"Received: an item of type {type(text).__name__}")
        return text_to_word_sequence(text, filters=self.filters, lower=self.lower,
                                     split=self.split)

    @staticmethod
    def _check_texts(texts, method: str) -> None:
        if isinstance(texts, (str, bytes)):
            raise TypeError(
                f"Tokenizer.{method} expected a list of texts. Received: a single string "
                "(wrap it in a list, or it is read character by character)"
            )

    def fit_on_texts(self, texts: Iterable) -> None:
        """Count the words of `texts` and rebuild `word_index` (frequency order)."""
        self._check_texts(texts, "fit_on_texts")
        for text in texts:
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        wcounts = sorted(self.word_counts.items(), key=lambda wc: wc[1], reverse=True)
        sorted_voc = [] if self.oov_token is None else [self.oov_token]
        sorted_voc.extend(w for w, _ in wcounts)
        self.word_index = dict(zip(sorted_voc, range(1, len(sorted_voc) + 1), strict=True))
        self.index_word = {c: w for w, c in self.word_index.items()}
        for w, c in list(self.word_docs.items()):
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences) -> None:
        """Update the document counts from sequences of indices (for `sequences_to_matrix`)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    # ----------------------------------------------------------------- texts ↔ sequences
    def texts_to_sequences(self, texts) -> list[list[int]]:
        """Each text → the list of its words' indices (see the class docstring)."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        """Generator version of `texts_to_sequences`."""
        self._check_texts(texts, "texts_to_sequences")
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token)
        for text in texts:
            vect = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None:
                    if num_words and i >= num_words:
                        if oov_index is not None:
                            vect.append(oov_index)
                    else:
                        vect.append(i)
                elif self.oov_token is not None:
                    vect.append(oov_index)
            yield vect

    def sequences_to_texts(self, sequences) -> list[str]:
        """Each sequence of indices → its words joined by spaces (rare/unknown dropped, or
        the oov_token)."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        """Generator version of `sequences_to_texts`."""
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token)
        for seq in sequences:
            vect = []
            for num in seq:
                word = self.index_word.get(num)
                if word is not None:
                    if num_words and num >= num_words:
                        if oov_index is not None:
                            vect.append(self.index_word[oov_index])
                    else:
                        vect.append(word)
                elif self.oov_token is not None:
                    vect.append(self.index_word[oov_index])
            yield " ".join(vect)

    # ----------------------------------------------------------------- matrices
    def texts_to_matrix(self, texts, mode: str = "binary") -> np.ndarray:
        """Bag-of-words matrix (N, num_words): see `sequences_to_matrix`."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode: str = "binary") -> np.ndarray:
        """Bag-of-words matrix of index sequences, float64 as in Keras.

        Math (c = count of index j in the sequence, L = its length, n = document_count):
            binary: 1;  count: c;  freq: c / L;  tfidf: (1 + ln c) · ln(1 + n / (1 + df_j))

        Shapes:
            N sequences → (N, num_words) (or len(word_index) + 1 without num_words).
        """
        if mode not in ("binary", "count", "tfidf", "freq"):
            raise ValueError(f"Unknown vectorization mode. Expected one of binary, count, "
                             f"tfidf, freq. Received: mode={mode!r}")
        if not self.num_words:
            if not self.word_index:
                raise ValueError("Specify a dimension (`num_words` argument), or fit on some "
                                 "text data first.")
            num_words = len(self.word_index) + 1
        else:
            num_words = self.num_words
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        x = np.zeros((len(sequences), num_words))
        for i, seq in enumerate(sequences):
            if not seq:
                continue
            counts: collections.defaultdict[int, int] = collections.defaultdict(int)
            for j in seq:
                if j < num_words:
                    counts[j] += 1
            for j, c in counts.items():
                if mode == "count":
                    x[i][j] = c
                elif mode == "freq":
                    x[i][j] = c / len(seq)
                elif mode == "binary":
                    x[i][j] = 1
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[i][j] = (1 + np.log(c)) * idf
        return x

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        """Keras 2's config: the settings plus the dictionaries as JSON strings."""
        return {
            "num_words": self.num_words, "filters": self.filters, "lower": self.lower,
            "split": self.split, "char_level": self.char_level, "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """JSON string readable by `tokenizer_from_json` (here and in Keras 2)."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """Rebuild a `Tokenizer` from `Tokenizer.to_json()` output (Keras 2's format)."""
    config = dict(json.loads(json_string).get("config"))
    word_counts = json.loads(config.pop("word_counts"))
    word_docs = json.loads(config.pop("word_docs"))
    index_docs = {int(k): v for k, v in json.loads(config.pop("index_docs")).items()}
    index_word = {int(k): v for k, v in json.loads(config.pop("index_word")).items()}
    word_index = json.loads(config.pop("word_index"))
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = collections.OrderedDict(word_counts)
    tokenizer.word_docs = collections.defaultdict(int, word_docs)
    tokenizer.index_docs = collections.defaultdict(int, index_docs)
    tokenizer.word_index = word_index
    tokenizer.index_word = index_word
    return tokenizer
