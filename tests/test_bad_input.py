"""Bad input, tried systematically (Hypothesis): every case either works and returns the right
shapes, or raises the course's own clear error. Nothing else escapes; nothing is cut silently.

The data loader gets random bytes, encodings, line endings, empty and overlong lines and class
files of different lengths; ``encode``, ``ClassificationData.from_texts``, ``fit`` and
``predict_proba`` get random text lists (empty strings, whitespace, 10,000-character lines,
non-Latin scripts, ``None``).
"""

from __future__ import annotations

import shutil
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_models import tiny_bert

from course_utils.classification.classifier import ClassificationData, TextClassifier
from course_utils.classification.train import TrainConfig, fit, predict_proba
from course_utils.core.data import DataError, load_from_folder
from course_utils.embeddings.sentence import encode

CASES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PACKAGE = str(Path(__file__).resolve().parents[1] / "course_utils")
tried: dict[str, int] = {}


def raised_by_the_course(err: BaseException) -> bool:
    """True when the exception was raised by course_utils code, not deep inside a library."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PACKAGE)


def count(name: str) -> None:
    tried[name] = tried.get(name, 0) + 1


# --- the data loader ---------------------------------------------------------------------------

LINE = st.one_of(
    st.text(min_size=0, max_size=40),  # any Unicode, empty included
    st.text(alphabet=" \t\r\x0b\x0c", max_size=5),  # whitespace only
    st.builds(
        lambda word, n: word * n, st.sampled_from(["abc ", "déjà vu "]), st.integers(1500, 3000)
    ),  # overlong lines
    st.sampled_from(["naïve café", "映画はよかった", "фильм скучный", "فيلم رائع", "🎬 👍"]),
)


@st.composite
def class_file(draw) -> bytes:
    lines = draw(st.lists(LINE, min_size=0, max_size=12))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16", "raw"]))
    if encoding == "raw":
        return draw(st.binary(max_size=200))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    return text.encode(encoding, errors="replace")


def one_line(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text and "\r" not in text


SENTENCE = st.one_of(
    st.text(min_size=1, max_size=40).filter(one_line),
    st.sampled_from(["naïve café", "映画はよかった", "фильм скучный", "🎬 👍", "a" * 3000]),
)


@st.composite
def class_files(draw) -> tuple[bytes, bytes]:
    """Half the time two independent (mostly broken) files, else a well-formed pair."""
    if draw(st.booleans()):
        return draw(class_file()), draw(class_file())
    n = draw(st.integers(1, 12))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    pair = [draw(st.lists(SENTENCE, min_size=n, max_size=n)) for _ in range(2)]
    return tuple((newline.join(lines) + newline).encode("utf-8") for lines in pair)


@CASES
@given(files=class_files())
def test_the_loader_either_splits_the_files_or_says_what_is_wrong(files) -> None:
    pos, neg = files
    folder = Path(tempfile.mkdtemp())
    try:
        (folder / "rt-polarity.pos").write_bytes(pos)
        (folder / "rt-polarity.neg").write_bytes(neg)
        try:
            ds = load_from_folder(folder, expect_full=False)
        except DataError as err:
            count("loader: DataError")
            assert str(err) and raised_by_the_course(err)
            return
        count("loader: loaded")
        n = sum(len(ds[s]) for s in ds)
        sentences = [t for s in ds for t in ds[s]["text"]]
        assert n % 2 == 0 and n > 0 and all(t.strip() == t and t for t in sentences)
        assert sorted(set(int(y) for s in ds for y in ds[s]["label"])) == [0, 1]
        assert [len(ds[s]) for s in ("train", "validation", "test")] == [
            len(ds[s]) for s in ds
        ]  # three splits, in order
    finally:
        shutil.rmtree(folder)


# --- texts into the model ----------------------------------------------------------------------

TEXT = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet=" \t\n", min_size=1, max_size=4),
    st.text(min_size=1, max_size=30),
    st.builds(
        lambda word, n: (word * n)[:10000], st.sampled_from(["good ", "bad film "]), st.just(2500)
    ),  # a 10,000-character line
    st.sampled_from(["映画はよかった", "фильм скучный", "🎬", "a film"]),
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    tokenizer, model = tiny_bert(tmp_path_factory.mktemp("tiny"))
    return tokenizer, model


def valid(texts: list) -> bool:
    return bool(texts) and all(isinstance(t, str) and t.strip() for t in texts)


@CASES
@given(texts=st.lists(TEXT, min_size=0, max_size=6))
def test_encode_works_or_names_the_bad_text(tiny, texts: list) -> None:
    tokenizer, model = tiny
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            vectors = encode(texts, model, tokenizer, max_length=32, cache=False, progress=False)
        except (ValueError, TypeError) as err:
            count("encode: clear error")
            assert not valid(texts) and raised_by_the_course(err), err
            return
    count("encode: embedded")
    assert valid(texts) and vectors.shape == (len(texts), model.config.hidden_size)
    assert np.isfinite(vectors).all()
    long = [t for t in texts if len(tokenizer(t)["input_ids"]) > 32]
    cut_notes = [w for w in caught if "were cut" in str(w.message)]
    assert bool(long) == bool(cut_notes)  # a cut text is always reported, and only then
    if long:
        assert f"{len(long)} of {len(texts)} texts" in str(cut_notes[0].message)


@CASES
@given(texts=st.lists(TEXT, min_size=0, max_size=6), flip=st.booleans())
def test_training_data_works_or_names_the_bad_text(tiny, texts: list, flip: bool) -> None:
    tokenizer, encoder = tiny
    labels = [(i + flip) % 2 for i in range(len(texts))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cut texts: checked in the encode test
        try:
            data = ClassificationData.from_texts(texts, labels, tokenizer, max_length=32)
        except ValueError as err:
            count("from_texts: clear error")
            assert not valid(texts) and raised_by_the_course(err), err
            return
    count("from_texts: built")
    assert valid(texts) and len(data) == len(texts) and max(data.lengths) <= 32
    torch.manual_seed(0)
    model = TextClassifier(encoder, pooling="mean", dropout=0.0)
    probs = predict_proba(model, data, progress=False)
    assert probs.shape == (len(texts), 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    config = TrainConfig(epochs=1, lr=1e-3, batch_size=4, patience=None)
    try:
        fit(model, data, data, config, device="cpu", progress=False)
    except ValueError as err:  # a single example, or a single class: said plainly
        count("fit: clear error")
        assert len(set(labels)) < 2 and raised_by_the_course(err), err
        return
    count("fit: trained")


def test_report_how_many_cases_were_tried() -> None:
    """Runs last (file order): the counts the closing note quotes."""
    print("bad-input cases tried:", dict(sorted(tried.items())))
    assert tried.get("loader: loaded", 0) >= 10 and tried.get("loader: DataError", 0) >= 10
    assert tried.get("encode: embedded", 0) >= 10 and tried.get("encode: clear error", 0) >= 10
