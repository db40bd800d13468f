"""Rotten Tomatoes sentence-polarity data, loaded the same way online and offline.

Taught in notebooks 00 (a first look), 03/04 (embeddings, topics) and 05 (classification).

Resolution order of :func:`load_rotten_tomatoes`:

1. an explicit folder (``source=...``) or the ``COURSE_DATA_DIR`` environment variable,
   a folder holding ``rt-polarity.pos`` and ``rt-polarity.neg`` (Pang & Lee, v1.0);
2. the ``cornell-movie-review-data/rotten_tomatoes`` dataset on the Hugging Face Hub, when
   :mod:`course_utils.core.hub` decides the Hub can be used (one short probe per process);
3. otherwise a :class:`DataError` that says how to provide the data, at once (no waiting on
   connection retries). :func:`check_available` makes that decision without loading anything,
   so ``make run`` stops in a second when there is no data.

The local files are split exactly as the Hub does (80/10/10 per class, positives first),
so ``load_rotten_tomatoes()`` returns the same rows in the same order from either source.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.core.hub import hub_decision
from course_utils.core.paths import sha256

if TYPE_CHECKING:  # `datasets` is imported where it is used: checking the data stays fast
    from datasets import DatasetDict, Features

DATA_ENV_VAR = "COURSE_DATA_DIR"
# The dataset's namespaced id: current huggingface_hub refuses the legacy one-segment
# "rotten_tomatoes" before any request (HfUriError), even though the Hub redirects it.
HUB_DATASET = "cornell-movie-review-data/rotten_tomatoes"
POS_FILE = "rt-polarity.pos"
NEG_FILE = "rt-polarity.neg"
CHECKSUM_FILE = "SHA256SUMS"
LABEL_NAMES = ("neg", "pos")
SPLIT_SIZES = {"train": 8530, "validation": 1066, "test": 1066}
SENTENCES_PER_CLASS = 5331  # the v1.0 release: 5,331 positive and 5,331 negative sentences


def features() -> Features:
    """The splits' features: ``text`` (string) and ``label`` (``ClassLabel(["neg", "pos"])``)."""
    from datasets import ClassLabel, Features, Value

    return Features({"text": Value("string"), "label": ClassLabel(names=list(LABEL_NAMES))})


_HOW_TO = (
    "Provide the data in one of two ways: (1) pass a folder holding rt-polarity.pos and "
    f"rt-polarity.neg, e.g. load_rotten_tomatoes('path/to/rotten_tomatoes'), or set "
    f"{DATA_ENV_VAR} to that folder; (2) go online so that the Hugging Face Hub dataset "
    f"'{HUB_DATASET}' can be downloaded."
)


class DataError(RuntimeError):
    """The course data is missing, corrupt or malformed. The message says how to fix it."""


@dataclass(frozen=True)
class DataSource:
    """Where the Rotten Tomatoes data comes from: ``kind`` is ``"folder"``, ``"hub"`` or
    ``"missing"`` (then ``via`` says why the Hub cannot be used)."""

    kind: str
    location: str
    via: str = ""  # "argument" or the environment variable's name; for "missing", the reason

    @property
    def name(self) -> str:
        """What results print after setup said where the data came from: ``Rotten Tomatoes``."""
        return "Rotten Tomatoes" if self.kind != "missing" else "Rotten Tomatoes (unavailable)"

    def describe(self) -> str:
        """One line for printouts: ``Rotten Tomatoes (local files .../rt, COURSE_DATA_DIR)``.

        Only the folder's last part is shown so that printed results do not depend on where a
        machine keeps the data; :attr:`location` has the full path.
        """
        if self.kind == "folder":
            return f"Rotten Tomatoes (local files .../{Path(self.location).name}, {self.via})"
        if self.kind == "missing":
            return f"Rotten Tomatoes unavailable (no {DATA_ENV_VAR}; Hub: {self.via})"
        cached = f", {self.via}" if self.via else ""
        return f"Rotten Tomatoes (Hugging Face Hub: {self.location}{cached})"


def resolve_data_source(source: str | os.PathLike[str] | None = None) -> DataSource:
    """Decide where the data comes from, without reading it.

    An explicit ``source`` wins, then ``$COURSE_DATA_DIR``, then the Hub if it can be used
    (:func:`course_utils.core.hub.hub_decision`), else a ``"missing"`` source saying why.
    """
    if source is not None:
        return DataSource("folder", str(Path(source).expanduser()), "argument")
    env = os.environ.get(DATA_ENV_VAR, "").strip()
    if env:
        return DataSource("folder", str(Path(env).expanduser()), DATA_ENV_VAR)
    hub = hub_decision()
    if hub.online:
        return DataSource("hub", HUB_DATASET)
    if hub_cache_has_dataset():  # downloaded on an earlier, online day: `datasets` reads it offline
        return DataSource("hub", HUB_DATASET, "local Hugging Face cache")
    return DataSource("missing", "", hub.reason)


def hub_cache_has_dataset() -> bool:
    """True when the local Hugging Face cache holds a download of the Hub's Rotten Tomatoes."""
    cache = os.environ.get("HF_HUB_CACHE", "").strip()
    if not cache:
        home = os.environ.get("HF_HOME", "").strip()
        cache = str(Path(home) / "hub") if home else str(Path.home() / ".cache/huggingface/hub")
    return (Path(cache).expanduser() / f"datasets--{HUB_DATASET.replace('/', '--')}").is_dir()


def check_available(source: str | os.PathLike[str] | None = None) -> DataSource:
    """Decide where the data comes from and check that it is there, without reading it.

    A folder must exist and hold both class files; the Hub must answer the probe. Returns the
    :class:`DataSource`; raises :class:`DataError` with instructions otherwise. Fast (no
    ``datasets`` import, at most one short network probe): ``make run`` calls it first.
    """
    where = resolve_data_source(source)
    if where.kind == "missing":
        raise DataError(
            f"No Rotten Tomatoes data: {DATA_ENV_VAR} is not set and the Hugging Face Hub cannot "
            f"be used ({where.via}). {_HOW_TO}"
        )
    if where.kind == "folder":
        _check_folder(Path(where.location))
    return where


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise DataError(f"Data folder {path} does not exist. {_HOW_TO}")
    missing = [name for name in (POS_FILE, NEG_FILE) if not (path / name).is_file()]
    if missing:
        raise DataError(f"Data folder {path} lacks {', '.join(missing)}. {_HOW_TO}")


def verify_checksums(folder: Path) -> bool:
    """Check the class files against ``folder/SHA256SUMS`` when that file exists.

    Returns ``True`` if checksums were verified, ``False`` if there is no checksum file.
    Raises :class:`DataError` on a mismatch or a malformed checksum file.
    """
    sums_path = folder / CHECKSUM_FILE
    if not sums_path.is_file():
        return False
    expected: dict[str, str] = {}
    for lineno, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(
                f"{sums_path}:{lineno}: expected '<sha256>  <file name>', got {line!r}."
            )
        expected[parts[1].lstrip("*")] = parts[0].lower()
    for name in (POS_FILE, NEG_FILE):
        if name not in expected:
            raise DataError(
                f"{sums_path} lists no checksum for {name}, so that file cannot be verified. "
                f"Add its line ('sha256sum {name} >> {CHECKSUM_FILE}' on the original copy) "
                "or restore the checksum file that came with the data."
            )
        actual = sha256(folder / name)
        if actual != expected[name]:
            raise DataError(
                f"Checksum mismatch for {folder / name}: SHA256 is {actual}, "
                f"{sums_path} expects {expected[name]}. The file is corrupt or was edited; "
                "restore the original copy."
            )
    return True


def read_sentences(path: Path) -> list[str]:
    """Read one sentence per line (UTF-8), stripped; fail on undecodable bytes or empty lines."""
    if not path.is_file():
        raise DataError(f"Missing data file {path}. {_HOW_TO}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}: bytes at offset {err.start} (line {line}) are not valid UTF-8. "
            "The course reads the UTF-8 copy of the data; re-encode the file as UTF-8 "
            "(the original distribution is Latin-1: iconv -f latin1 -t utf-8)."
        ) from err
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last sentence, it is not an empty line
    sentences = [line.strip() for line in lines]
    empty = [i for i, s in enumerate(sentences, 1) if not s]
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (" ..." if len(empty) > 5 else "")
        raise DataError(
            f"{path}: {len(empty)} empty line(s) (line {shown}); every line must hold one sentence."
        )
    if not sentences:
        raise DataError(f"{path} holds no sentences.")
    return sentences


def split_polarity(pos: list[str], neg: list[str]) -> DatasetDict:
    """Split the two class lists exactly as the Hub's ``rotten_tomatoes`` dataset does.

    With ``n`` sentences per class, the cut points are ``int(0.8 n + 0.5)`` and
    ``int(0.9 n + 0.5)``; each split holds the positives first, then the negatives.
    """
    if len(pos) != len(neg):
        raise DataError(
            f"The class files differ in length ({POS_FILE}: {len(pos)} sentences, "
            f"{NEG_FILE}: {len(neg)}); the balanced Rotten Tomatoes split needs equal counts. "
            "A file is truncated or has extra lines."
        )
    from datasets import Dataset, DatasetDict

    feats = features()
    n = len(pos)
    i1, i2 = int(n * 0.8 + 0.5), int(n * 0.9 + 0.5)
    bounds = {"train": (0, i1), "validation": (i1, i2), "test": (i2, n)}
    splits = {}
    for name, (lo, hi) in bounds.items():
        texts = pos[lo:hi] + neg[lo:hi]
        labels = [1] * (hi - lo) + [0] * (hi - lo)
        splits[name] = Dataset.from_dict({"text": texts, "label": labels}, features=feats)
    return DatasetDict(splits)


def load_from_folder(folder: str | os.PathLike[str], expect_full: bool = True) -> DatasetDict:
    """Load and split ``rt-polarity.pos``/``.neg`` from ``folder``, verifying checksums.

    With ``expect_full`` (the default) each class file must hold the release's 5,331
    sentences, so a truncated copy without a checksum file is an error, not a smaller
    dataset; ``expect_full=False`` splits files of any (equal) length by the same rule.
    """
    path = Path(folder).expanduser()
    _check_folder(path)
    verify_checksums(path)
    pos, neg = read_sentences(path / POS_FILE), read_sentences(path / NEG_FILE)
    # equal lengths only: unequal files get split_polarity's own error
    if expect_full and len(pos) == len(neg) != SENTENCES_PER_CLASS:
        raise DataError(
            f"{path / POS_FILE} holds {len(pos):,} sentences (and {NEG_FILE} as many); the "
            f"Rotten Tomatoes release has {SENTENCES_PER_CLASS:,} per class, so this copy is "
            "truncated, extended or not the original. Restore the original files (their "
            f"{CHECKSUM_FILE} lets the loader verify them), or pass expect_full=False to split "
            "a smaller sample by the same rule."
        )
    return split_polarity(pos, neg)


def _hub_errors() -> tuple[type[BaseException], ...]:
    """What a failed Hub download raises: ``OSError`` (connection, offline mode, HTTP status,
    not found) and huggingface_hub's ``HfUriError`` (a ``ValueError``: an id or revision the
    client refuses before any request). Other errors are bugs and keep their own type."""
    from huggingface_hub import errors

    return (OSError, *(e for e in (getattr(errors, "HfUriError", None),) if e is not None))


def _load_from_hub() -> DatasetDict:
    from datasets import DatasetDict, load_dataset

    try:
        ds = load_dataset(HUB_DATASET)
    except _hub_errors() as err:
        raise DataError(
            f"Could not load '{HUB_DATASET}' from the Hugging Face Hub "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). {_HOW_TO}"
        ) from err
    return DatasetDict({name: ds[name].cast(features()) for name in SPLIT_SIZES})


def load_rotten_tomatoes(
    source: str | os.PathLike[str] | None = None, expect_full: bool = True
) -> DatasetDict:
    """Load Rotten Tomatoes as ``DatasetDict(train/validation/test)``.

    Splits have 8,530 / 1,066 / 1,066 rows with features ``text`` (string) and ``label``
    (``ClassLabel(["neg", "pos"])``), rows in the Hub's order. ``source`` is a folder with
    the Pang & Lee files; when ``None`` the folder in ``$COURSE_DATA_DIR`` is used, else
    the Hub when it can be used. Raises :class:`DataError` with instructions when the data
    is missing or bad.
    ``expect_full=False`` accepts a folder with fewer sentences (see :func:`load_from_folder`).
    """
    where = check_available(source)
    if where.kind == "folder":
        return load_from_folder(where.location, expect_full=expect_full)
    return _load_from_hub()


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.core.data``: say where the data comes from, or why there is none."""
    del argv
    try:
        where = check_available()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"data: {where.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
