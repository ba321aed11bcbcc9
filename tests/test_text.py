"""Text preprocessing: `Tokenizer` against Keras 2's (the `tf_keras` package, what the course
imports as `tensorflow.keras.preprocessing.text`) and `pad_sequences` against Keras 3's
`keras.utils.pad_sequences`, on hypothesis-generated texts with unicode and punctuation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.preprocessing.sequence import pad_sequences
from scratch.preprocessing.text import Tokenizer, text_to_word_sequence, tokenizer_from_json
from tests.conftest import cheap

# Words chosen to stress str.lower() (İ → i̇ grows, ß, final sigma, Greek, CJK, accents),
# apostrophes (not filtered by default) and digits.
WORDS = ["the", "The", "THE", "cat", "cats", "naïve", "Ünïcode", "İstanbul", "straße", "ΣΟΦΊΑ",
         "όσος", "日本語", "don't", "x2", "42", "ham", "spam", "Free", "free", "<OOV>", "émoji🙂",
         "a"]
SEPARATORS = [" ", "  ", ", ", ". ", "!", "?", "\t", "\n", " - ", "...", "(", ")", ":", "'",
              '"', "/", " _ ", "\u00a0", "\u3000", "~", "#"]


@st.composite
def texts(draw):
    def one():
        if draw(st.integers(0, 5)) == 0:  # fully random unicode text now and then
            return draw(st.text(max_size=30))
        n = draw(st.integers(0, 10))
        parts = []
        for _ in range(n):
            parts.append(draw(st.sampled_from(WORDS)))
            parts.append(draw(st.sampled_from(SEPARATORS)))
        return "".join(parts)

    return draw(st.lists(st.builds(one), min_size=0, max_size=8))


@st.composite
def tokenizer_configs(draw):
    return dict(
        num_words=draw(st.one_of(st.none(), st.integers(0, 12))),
        lower=draw(st.booleans()),
        char_level=draw(st.integers(0, 5)) == 0,
        oov_token=draw(st.sampled_from([None, None, "<OOV>", "cat"])),
        split=draw(st.sampled_from([" ", " ", ",", "a"])),
        filters=draw(st.sampled_from([None, None, "", ".,!", "aeiou\n"])),
    )


@pytest.fixture(scope="session")
def keras2_text(tf):
    """Keras 2's text module (the `tf_keras` package, installed without its own TF)."""
    return pytest.importorskip("tf_keras.preprocessing.text")


def _same(f, ours, ref):
    """f(ours) equals f(ref), or both raise the same exception type."""
    try:
        expected = f(ref)
    except Exception as e:  # noqa: BLE001 - the reference's error type is the spec
        with pytest.raises(type(e)):
            f(ours)
        return
    np.testing.assert_array_equal(f(ours), expected)


def _pair(keras2_text, config):
    kwargs = {k: v for k, v in config.items() if not (k == "filters" and v is None)}
    return Tokenizer(**kwargs), keras2_text.Tokenizer(**kwargs)


@cheap
@given(texts(), texts(), tokenizer_configs())
@example(["I like eggs and ham.", "I love chocolate and bunnies.", "I hate onions."],
         ["I like onions, not spam!"], dict(num_words=20000, lower=True, char_level=False,
                                            oov_token=None, split=" ", filters=None))
@example(["a b b c c c", "d"], ["a b c d e"], dict(num_words=3, lower=True, char_level=False,
                                                   oov_token="<OOV>", split=" ", filters=None))
def test_tokenizer_matches_keras2(keras2_text, fit_texts, other_texts, config):
    ours, ref = _pair(keras2_text, config)
    ours.fit_on_texts(fit_texts)
    ref.fit_on_texts(fit_texts)
    assert ours.document_count == ref.document_count
    assert list(ours.word_counts.items()) == list(ref.word_counts.items())
    assert ours.word_index == ref.word_index
    assert ours.index_word == ref.index_word
    assert dict(ours.word_docs) == dict(ref.word_docs)
    assert dict(ours.index_docs) == dict(ref.index_docs)
    for batch in (fit_texts, other_texts):
        seqs = ours.texts_to_sequences(batch)
        assert seqs == ref.texts_to_sequences(batch)
        assert ours.sequences_to_texts(seqs) == ref.sequences_to_texts(seqs)
        for mode in ("binary", "count", "freq", "tfidf"):
            _same(lambda t, m=mode, b=batch: t.texts_to_matrix(b, mode=m), ours, ref)
    # fitting again accumulates, as in Keras
    ours.fit_on_texts(other_texts)
    ref.fit_on_texts(other_texts)
    assert ours.word_index == ref.word_index
    assert ours.texts_to_sequences(fit_texts) == ref.texts_to_sequences(fit_texts)
    assert ours.get_config() == ref.get_config()


@cheap
@given(texts(), st.sampled_from([" ", ",", "xy"]), st.booleans())
def test_text_to_word_sequence_matches_keras2(keras2_text, batch, split, lower):
    for text in batch:
        assert text_to_word_sequence(text, split=split, lower=lower) == \
            keras2_text.text_to_word_sequence(text, split=split, lower=lower)


def test_token_lists_and_json_round_trip(keras2_text):
    docs = [["Hello", "world"], ["hello", "again", "world"]]
    ours, ref = Tokenizer(), keras2_text.Tokenizer()
    ours.fit_on_texts(docs)
    ref.fit_on_texts(docs)
    assert ours.word_index == ref.word_index == {"hello": 1, "world": 2, "again": 3}
    assert ours.texts_to_sequences(docs) == ref.texts_to_sequences(docs)
    again = tokenizer_from_json(ours.to_json())
    assert again.word_index == ours.word_index and again.index_word == ours.index_word
    assert again.texts_to_sequences(docs) == ours.texts_to_sequences(docs)
    theirs = keras2_text.tokenizer_from_json(ours.to_json())
    assert theirs.texts_to_sequences(docs) == ours.texts_to_sequences(docs)


def test_tokenizer_errors():
    with pytest.raises(TypeError, match="a single string"):
        Tokenizer().fit_on_texts("one text")
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        Tokenizer(max_words=3)
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer(num_words=-1)
    with pytest.raises(TypeError, match="strings"):
        Tokenizer().fit_on_texts([3])
    with pytest.raises(ValueError, match="fit on some text data first"):
        Tokenizer().texts_to_matrix(["a"])
    tok = Tokenizer()
    tok.fit_on_texts(["a b"])
    with pytest.raises(ValueError, match="mode"):
        tok.texts_to_matrix(["a"], mode="bm25")


# ------------------------------------------------------------------------- pad_sequences
@st.composite
def pad_cases(draw):
    n = draw(st.integers(1, 6))
    seqs = [draw(st.lists(st.integers(-5, 50), max_size=9)) for _ in range(n)]
    if all(len(s) == 0 for s in seqs):
        seqs[0].append(draw(st.integers(1, 9)))
    return dict(
        sequences=seqs,
        maxlen=draw(st.one_of(st.none(), st.integers(1, 10))),
        dtype=draw(st.sampled_from(["int32", "int64", "float32", "float64"])),
        padding=draw(st.sampled_from(["pre", "post"])),
        truncating=draw(st.sampled_from(["pre", "post"])),
        value=draw(st.sampled_from([0.0, -1, 7, 2.5])),
        as_arrays=draw(st.booleans()),
    )


@cheap
@given(pad_cases())
@example(dict(sequences=[[1], [2, 3], [4, 5, 6]], maxlen=2, dtype="int32", padding="pre",
              truncating="pre", value=0.0, as_arrays=False))
def test_pad_sequences_matches_keras3(tf_keras, case):
    case = dict(case)
    as_arrays = case.pop("as_arrays")
    if as_arrays:
        case["sequences"] = [np.array(s, dtype="int64") for s in case["sequences"]]
    ours = pad_sequences(**case)
    ref = tf_keras.utils.pad_sequences(**case)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_pad_sequences_course_examples_and_items(tf_keras):
    seqs = [[1], [2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, padding="post"),
                                  [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, truncating="post"),
                                  [[0, 1], [2, 3], [4, 5]])
    vecs = [np.ones((2, 3)), [], np.zeros((1, 3))]
    np.testing.assert_array_equal(pad_sequences(vecs, maxlen=2, dtype="float32"),
                                  tf_keras.utils.pad_sequences(vecs, maxlen=2, dtype="float32"))
    words = [["a", "b"], ["c"]]
    np.testing.assert_array_equal(pad_sequences(words, dtype=object, value="-"),
                                  tf_keras.utils.pad_sequences(words, dtype=object, value="-"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(sequences=[[1], 3]), "non-iterable"),
    (dict(sequences=[[1]], padding="middle"), "Padding type"),
    (dict(sequences=[[1]], truncating="both"), "Truncating type"),
    (dict(sequences=[[1]], value="x"), "dtype=object"),
    (dict(sequences=[[1]], maxlen=-1), "maxlen"),
    (dict(sequences=[np.ones((2, 3)), np.ones((2, 4))]), "expected shape"),
    (dict(sequences=[]), "empty"),
])
def test_pad_sequences_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(**kwargs)
