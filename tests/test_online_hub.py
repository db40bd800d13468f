"""The online path against the loopback Hub (``tests/loopback_hub.py``), for real.

Client code runs in subprocesses: the Hugging Face libraries read ``HF_ENDPOINT`` when they
are imported. Each test starts from an empty Hugging Face cache. The whole course online and
then offline from that cache is ``make online`` (``tests/online_course.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from loopback_hub import KNOWN_SHAPES, LoopbackHub, build_repos, distilbert_repo

from course_utils.core.data import load_from_folder

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("COURSE_DATA_DIR") or str(ROOT.parent / "shared/data/rotten_tomatoes")
needs_data = pytest.mark.skipif(
    not (Path(DATA_DIR) / "rt-polarity.pos").is_file(),
    reason=f"the Rotten Tomatoes files ({DATA_DIR}) build the loopback Hub's dataset repo",
)


@pytest.fixture(scope="module")
def hub():
    with LoopbackHub(build_repos(DATA_DIR)) as server:
        yield server


def client(hub: LoopbackHub, tmp: Path, code: str, offline: bool = False) -> dict:
    """Run ``code`` in a fresh Python as a learner online (or offline on ``tmp``'s cache);
    the code prints one JSON line, returned here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "HF_"))}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp / "hf"), COURSE_CACHE_DIR=str(tmp / "c"))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_data
def test_one_segment_dataset_id_is_refused_and_caught(hub: LoopbackHub, tmp_path: Path) -> None:
    """The bug of issue 28, reproduced: ``load_dataset("rotten_tomatoes")`` fails against a Hub
    that redirects the legacy id, because the client refuses one-segment ids; the course's
    loader turns it into its own DataError with the cause kept."""
    out = client(
        hub,
        tmp_path,
        """
        import json
        import datasets
        from course_utils.core import data
        try:
            datasets.load_dataset("rotten_tomatoes")
            raw = "loaded"
        except Exception as err:
            raw = type(err).__name__
        data.HUB_DATASET = "rotten_tomatoes"  # the old id, through the course's loader
        try:
            data.load_rotten_tomatoes()
            ours = ("loaded", "")
        except data.DataError as err:
            ours = ("DataError", type(err.__cause__).__name__)
        print(json.dumps({"raw": raw, "ours": ours}))
    """,
    )
    assert out["raw"] == "HfUriError"
    assert out["ours"] == ["DataError", "HfUriError"]


@needs_data
def test_online_then_offline_from_the_cache(hub: LoopbackHub, tmp_path: Path) -> None:
    """Day one online: the resolver picks DistilBERT and the Hub's data, every loader the
    notebooks use works on the real repo shapes. Day two offline: the same from the cache."""
    code = """
        import json
        from course_utils.core import data, models
        from course_utils.views import neuron as neuron_view
        from course_utils.transformer.bert import BertEncoder
        from course_utils.decoder.gpt2 import load_gpt2
        from course_utils.core.hub import hub_decision
        from course_utils.topics.pipeline import load_embedding_model

        rt = data.load_rotten_tomatoes()
        where = data.resolve_data_source()
        tokenizer, model, name = models.load_encoder(verbose=False)
        folder = models.model_folder()
        scratch = BertEncoder.from_pretrained(folder)
        neuron_model, _ = neuron_view.load_neuron_view_model(folder)
        gpt_tokenizer, gpt = load_gpt2()
        st = load_embedding_model(None)
        print(json.dumps({
            "online": hub_decision().online, "data": where.describe(),
            "rows": {k: len(v) for k, v in rt.items()}, "first": rt["train"][0]["text"],
            "labels": rt["train"].features["label"].names,
            "model": name, "class": type(model).__name__, "source": models.resolve_encoder().source,
            "ignored": scratch.ignored_weights, "neuron": type(neuron_model).__name__,
            "gpt2": type(gpt).__name__,
            "st_dim": st.sentence_model.get_sentence_embedding_dimension(),
        }))
    """
    day1 = client(hub, tmp_path, code)
    assert day1["online"] and day1["model"] == "distilbert/distilbert-base-uncased"
    assert day1["source"] == "hf cache"  # after the download, the cache serves it
    assert (
        day1["data"]
        == "Rotten Tomatoes (Hugging Face Hub: cornell-movie-review-data/rotten_tomatoes)"
    )
    folder = load_from_folder(DATA_DIR)
    assert day1["rows"] == {k: len(v) for k, v in folder.items()}
    assert day1["first"] == folder["train"][0]["text"] and day1["labels"] == ["neg", "pos"]
    assert day1["class"] == "DistilBertModel" and day1["gpt2"] == "GPT2LMHeadModel"
    assert {w.split(".")[0] for w in day1["ignored"]} == {
        "vocab_transform", "vocab_layer_norm", "vocab_projector"}  # fmt: skip
    assert day1["neuron"] == "BertModel" and day1["st_dim"] == 384
    calls_before = len(hub.calls)
    day2 = client(hub, tmp_path, code, offline=True)
    assert len(hub.calls) == calls_before, "offline, nothing may reach the Hub"
    assert not day2["online"]
    assert day2["data"].endswith("local Hugging Face cache)")
    assert {k: day2[k] for k in ("rows", "first", "model", "class", "ignored")} == {
        k: day1[k] for k in ("rows", "first", "model", "class", "ignored")}  # fmt: skip


@needs_data
def test_the_libraries_call_only_known_endpoints(hub: LoopbackHub, tmp_path: Path) -> None:
    client(
        hub,
        tmp_path,
        """
        import json
        from transformers import pipeline
        chat = pipeline("text-generation", model="Qwen/Qwen2.5-0.5B-Instruct")
        out = chat([{"role": "user", "content": "hi"}], max_new_tokens=5)
        print(json.dumps({"reply": out[0]["generated_text"][-1]["role"]}))
    """,
    )
    assert hub.shapes() and not hub.unknown_calls()
    assert {"HEAD /{repo}/resolve/{rev}/{file}", "GET /{repo}/resolve/{rev}/{file}"} <= hub.shapes()
    assert hub.shapes() <= KNOWN_SHAPES


def test_unknown_endpoints_and_missing_files_answer_like_the_hub() -> None:
    """A request of a new shape is recorded as unknown (a library upgrade fails loudly); a
    missing file or repo gets the Hub's error code; legacy ids redirect."""
    with LoopbackHub([distilbert_repo()]) as hub:

        def status(path: str, method: str = "GET") -> tuple[int, dict]:
            request = urllib.request.Request(hub.url + path, method=method)
            opener = urllib.request.build_opener(_NoRedirect)
            try:
                with opener.open(request) as response:
                    return response.status, dict(response.headers)
            except urllib.error.HTTPError as err:
                return err.code, dict(err.headers)

        code, headers = status("/api/spaces/someone/app")
        assert code == 404 and hub.unknown_calls() == ["GET /api/spaces/someone/app"]
        code, headers = status("/distilbert/distilbert-base-uncased/resolve/main/nope.bin", "HEAD")
        assert code == 404 and headers["X-Error-Code"] == "EntryNotFound"
        code, headers = status("/nobody/nothing/resolve/main/config.json", "HEAD")
        assert code == 404 and headers["X-Error-Code"] == "RepoNotFound"
        code, headers = status("/distilbert-base-uncased/resolve/main/config.json", "HEAD")
        assert code == 307
        assert headers["Location"] == "/distilbert/distilbert-base-uncased/resolve/main/config.json"
        code, headers = status("/distilbert/distilbert-base-uncased/resolve/main/config.json")
        assert code == 200 and len(headers["X-Repo-Commit"]) == 40


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None


def test_neuron_view_and_encoder_strip_the_same_heads(tmp_path: Path) -> None:
    """The real distilbert-base-uncased is a DistilBertForMaskedLM; both readers of checkpoints
    drop its MLM head by the one rule (bert.is_task_head), and agree on the attention."""
    import torch

    from course_utils.transformer.bert import BertEncoder
    from course_utils.views import neuron as neuron_view

    repo = distilbert_repo()
    for name, content in repo.files.items():
        (tmp_path / name).write_bytes(content)
    scratch = BertEncoder.from_pretrained(tmp_path)
    assert sorted(scratch.ignored_weights) == sorted(
        k for k in _safetensors_keys(tmp_path) if k.startswith("vocab_"))  # fmt: skip
    model, tokenizer = neuron_view.load_neuron_view_model(tmp_path)
    ids = torch.tensor([tokenizer.encode("the film is a charming delight .")])
    with torch.no_grad():
        ours = scratch(ids, output_attentions=True).attentions[-1]
        theirs = neuron_view.neuron_attention(model, tokenizer, "the film is a charming delight .")
    torch.testing.assert_close(ours[0], torch.as_tensor(theirs[-1]).float(), atol=1e-5, rtol=1e-4)


def _safetensors_keys(folder: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        return list(weights.keys())
