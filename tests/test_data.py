"""course_utils.core.data: the real split, and every kind of bad input with a clear error."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest

from course_utils.core import data
from course_utils.core.data import DataError, load_rotten_tomatoes


def write_folder(tmp_path: Path, pos: bytes, neg: bytes, sums: bool = True) -> Path:
    folder = tmp_path / "rt"
    folder.mkdir()
    (folder / data.POS_FILE).write_bytes(pos)
    (folder / data.NEG_FILE).write_bytes(neg)
    if sums:
        lines = [
            f"{hashlib.sha256(b).hexdigest()}  {name}"
            for name, b in ((data.POS_FILE, pos), (data.NEG_FILE, neg))
        ]
        (folder / data.CHECKSUM_FILE).write_text("\n".join(lines) + "\n")
    return folder


def lines(prefix: str, n: int) -> bytes:
    return "".join(f"{prefix} sentence {i} .\n" for i in range(n)).encode()


def test_real_split_matches_hub(rt_folder: Path) -> None:
    ds = load_rotten_tomatoes(rt_folder)
    assert {k: ds[k].num_rows for k in ds} == data.SPLIT_SIZES
    assert ds["train"].features["label"].names == ["neg", "pos"]
    assert ds["test"][0]["text"].startswith("lovingly photographed in the manner of a golden book")
    assert ds["test"][0]["label"] == 1
    # positives first, then negatives, in every split; balanced classes
    for split in ds.values():
        labels = list(split["label"])
        half = len(labels) // 2
        assert labels == [1] * half + [0] * half
    assert ds["train"][0]["text"].startswith("the rock is destined to be the 21st century's")


def test_env_var_resolution(rt_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.DATA_ENV_VAR, str(rt_folder))
    assert data.resolve_data_source().kind == "folder"
    assert load_rotten_tomatoes()["validation"].num_rows == 1066


def test_small_split_follows_hub_rule(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 20), lines("bad", 20))
    ds = load_rotten_tomatoes(folder, expect_full=False)
    # n = 20: cut points int(16.5) = 16 and int(18.5) = 18
    assert [ds[k].num_rows for k in ("train", "validation", "test")] == [32, 4, 4]
    assert list(ds["validation"]["text"]) == [
        "good sentence 16 .",
        "good sentence 17 .",
        "bad sentence 16 .",
        "bad sentence 17 .",
    ]
    assert list(ds["validation"]["label"]) == [1, 1, 0, 0]


def test_strips_whitespace_and_crlf(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, b"  nice film \r\nfine .\n", b"dull .\r\nbad  \n")
    ds = load_rotten_tomatoes(folder, expect_full=False)
    texts = [t for split in ds.values() for t in split["text"]]
    assert sorted(texts) == ["bad", "dull .", "fine .", "nice film"]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist.*COURSE_DATA_DIR"):
        load_rotten_tomatoes(tmp_path / "nowhere")


def test_missing_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 4), lines("bad", 4), sums=False)
    (folder / data.NEG_FILE).unlink()
    with pytest.raises(DataError, match=r"lacks rt-polarity\.neg"):
        load_rotten_tomatoes(folder)


def test_checksum_mismatch(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 4), lines("bad", 4))
    (folder / data.POS_FILE).write_bytes(lines("evil", 4))
    with pytest.raises(DataError, match=r"Checksum mismatch for .*rt-polarity\.pos"):
        load_rotten_tomatoes(folder)


def test_malformed_checksum_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 4), lines("bad", 4))
    (folder / data.CHECKSUM_FILE).write_text("not a checksum line\n")
    with pytest.raises(DataError, match=r"SHA256SUMS:1"):
        load_rotten_tomatoes(folder)


def test_no_checksum_file_is_allowed(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 10), lines("bad", 10), sums=False)
    assert not data.verify_checksums(folder)
    assert load_rotten_tomatoes(folder, expect_full=False)["train"].num_rows == 16


def test_truncated_copy_without_checksums_is_an_error(tmp_path: Path) -> None:
    """Equal but short class files are not the release: no silent smaller dataset."""
    folder = write_folder(tmp_path, lines("good", 10), lines("bad", 10), sums=False)
    with pytest.raises(DataError, match=r"rt-polarity\.pos holds 10 sentences.*5,331.*expect_full"):
        load_rotten_tomatoes(folder)


def test_checksum_file_must_cover_both_class_files(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 4), lines("bad", 4))
    sums = folder / data.CHECKSUM_FILE
    sums.write_text(sums.read_text().splitlines()[0] + "\n")  # the .neg line is gone
    with pytest.raises(DataError, match=r"lists no checksum for rt-polarity\.neg"):
        load_rotten_tomatoes(folder, expect_full=False)


def test_undecodable_bytes(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, b"fine .\ncaf\xe9 au lait\n", lines("bad", 2), sums=False)
    with pytest.raises(DataError, match=r"rt-polarity\.pos.*line 2.*not valid UTF-8"):
        load_rotten_tomatoes(folder)


def test_empty_lines(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, b"one .\n\n   \nfour .\n", lines("bad", 4), sums=False)
    with pytest.raises(DataError, match=r"rt-polarity\.pos: 2 empty line\(s\) \(line 2, 3\)"):
        load_rotten_tomatoes(folder)


def test_empty_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, b"", lines("bad", 4), sums=False)
    with pytest.raises(DataError, match="holds no sentences"):
        load_rotten_tomatoes(folder)


def test_unequal_class_files(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, lines("good", 5), lines("bad", 4))
    with pytest.raises(DataError, match=r"differ in length \(rt-polarity\.pos: 5 .* 4\)"):
        load_rotten_tomatoes(folder)


def test_hub_unreachable_gives_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-course-test-cache")
    with pytest.raises(DataError, match=r"No Rotten Tomatoes data.*HF_HUB_OFFLINE is set"):
        load_rotten_tomatoes()


def test_no_data_and_no_hub_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither a folder nor the Hub: a clear error within the probe's limit, no retries."""
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with socket.socket() as sock:  # a closed port on loopback stands for an unreachable Hub
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(DataError, match=rf"127.0.0.1:{port} unreachable.*COURSE_DATA_DIR"):
        data.check_available()
    assert time.perf_counter() - start < 5
    assert data.resolve_data_source().describe().startswith("Rotten Tomatoes unavailable")
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # libraries told to stay offline from now on


def test_a_cached_hub_download_is_used_offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert data.resolve_data_source().kind == "missing"
    (tmp_path / "datasets--cornell-movie-review-data--rotten_tomatoes").mkdir()
    where = data.resolve_data_source()
    assert (where.kind, where.via) == ("hub", "local Hugging Face cache")


def test_hub_load_failure_gives_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub answered the probe but the download failed: the library's error, summarised."""
    import datasets

    from course_utils.core import hub

    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(data, "hub_decision", lambda: hub.HubDecision(True, "test"))

    def fail(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'rotten_tomatoes' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", fail)
    message = r"Could not load 'cornell-movie-review-data/rotten_tomatoes'.*ConnectionError"
    with pytest.raises(DataError, match=message) as e:
        load_rotten_tomatoes()
    assert isinstance(e.value.__cause__, ConnectionError)  # the cause is kept, not dropped


def test_a_bug_in_the_hub_path_is_not_relabelled_as_missing_data(monkeypatch) -> None:
    import datasets

    from course_utils.core import hub

    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(data, "hub_decision", lambda: hub.HubDecision(True, "test"))

    def broken(*args, **kwargs):
        raise TypeError("load_dataset() got an unexpected keyword argument")

    monkeypatch.setattr(datasets, "load_dataset", broken)
    with pytest.raises(TypeError, match="unexpected keyword"):
        load_rotten_tomatoes()
