"""course_utils.views.attention: attention extraction, the BertViz adapter, offline HTML export
and the neuron-view conversion, on tiny random BERT/DistilBERT models."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import VOCAB, tiny_bert
from transformers import (
    BertModel,
    BertTokenizerFast,
    DistilBertConfig,
    DistilBertModel,
)

from course_utils.core.paths import package_file
from course_utils.views import attention as av
from course_utils.views import neuron as nv
from course_utils.views import offline as ov
from course_utils.views.attention import AttentionShapeError, to_bertviz

TEXTS = ["the film was good .", "a very bad movie and the plot was awful !"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bert")
    tiny_bert(folder)
    return folder


@pytest.fixture(scope="module")
def eager(bert_folder: Path) -> tuple[BertTokenizerFast, BertModel]:
    tokenizer = BertTokenizerFast.from_pretrained(bert_folder)
    model = BertModel.from_pretrained(bert_folder, attn_implementation="eager").eval()
    return tokenizer, model


def hf_attention(model: torch.nn.Module, tokenizer, text: str) -> np.ndarray:
    """Reference: the HF model's attention for one unpadded text, ``(layers, heads, n, n)``."""
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return torch.cat(out.attentions).numpy()


# --- extraction and the adapter ----------------------------------------------------------


def test_extract_shapes_tokens_and_values(eager) -> None:
    tokenizer, model = eager
    view = av.extract_attention(model, tokenizer, TEXTS[0], decimals=None)
    assert view.tokens == ["[CLS]", "the", "film", "was", "good", ".", "[SEP]"]
    assert view.num_layers == 2 and view.num_heads == 2
    assert all(a.shape == (1, 2, 7, 7) for a in view.attention)
    np.testing.assert_allclose(view.stacked(), hf_attention(model, tokenizer, TEXTS[0]), atol=1e-6)


def test_padding_is_removed_and_matches_unpadded_run(eager) -> None:
    tokenizer, model = eager
    short, long = av.extract_attentions(model, tokenizer, TEXTS, decimals=None)
    assert len(short.tokens) == 7 and "[PAD]" not in short.tokens
    np.testing.assert_allclose(short.stacked(), hf_attention(model, tokenizer, TEXTS[0]), atol=1e-5)
    np.testing.assert_allclose(long.stacked(), hf_attention(model, tokenizer, TEXTS[1]), atol=1e-5)


def test_left_padding_and_full_token_list(eager) -> None:
    tokenizer, model = eager
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    # move the padding of the short example to the left: same tokens, same real attention
    n = int(enc["attention_mask"][0].sum())
    ids = torch.roll(enc["input_ids"][0], shifts=enc["input_ids"].shape[1] - n)
    mask = torch.roll(enc["attention_mask"][0], shifts=enc["input_ids"].shape[1] - n)
    position_ids = (mask.cumsum(0) - 1).clamp(min=0)
    with torch.no_grad():
        out = model(
            input_ids=ids[None], attention_mask=mask[None], position_ids=position_ids[None],
            output_attentions=True,
        )  # fmt: skip
    view = to_bertviz(
        out, tokenizer.convert_ids_to_tokens(ids.tolist()), attention_mask=mask, decimals=None
    )
    assert view.tokens[0] == "[CLS]" and len(view.tokens) == n
    np.testing.assert_allclose(view.stacked(), hf_attention(model, tokenizer, TEXTS[0]), atol=1e-5)


def test_sentence_pair_marks_sentence_b(eager) -> None:
    tokenizer, model = eager
    view = av.extract_attention(model, tokenizer, "the film", "was good")
    assert view.tokens == ["[CLS]", "the", "film", "[SEP]", "was", "good", "[SEP]"]
    assert view.sentence_b_start == 4


def test_sdpa_gives_no_weights_and_a_clear_error(bert_folder: Path, eager) -> None:
    tokenizer, eager_model = eager
    sdpa = BertModel.from_pretrained(bert_folder, attn_implementation="sdpa").eval()
    enc = tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        out = sdpa(**enc, output_attentions=True)
        ref = eager_model(**enc)
    assert not out.attentions  # transformers 5: the fused kernel returns no weights
    torch.testing.assert_close(out.last_hidden_state, ref.last_hidden_state, atol=1e-5, rtol=0)
    with pytest.raises(AttentionShapeError, match="attn_implementation='eager'"):
        to_bertviz(out, ["x"] * 7)


def random_attention(layers: int, batch: int, heads: int, n: int) -> np.ndarray:
    scores = np.random.default_rng(0).normal(size=(layers, batch, heads, n, n))
    weights = np.exp(scores)
    return weights / weights.sum(-1, keepdims=True)


def test_numpy_3d_and_5d_inputs_agree() -> None:
    arr = random_attention(3, 1, 2, 4)
    tokens = list("abcd")
    from_5d = to_bertviz(arr, tokens, decimals=None)
    from_3d = to_bertviz([layer[0] for layer in arr], tokens, decimals=None)
    from_4d = to_bertviz(arr[:, 0], tokens, decimals=None)
    for view in (from_3d, from_4d):
        np.testing.assert_array_equal(view.stacked(), from_5d.stacked())
    np.testing.assert_allclose(from_5d.stacked(), arr[:, 0])
    rounded = to_bertviz(arr, tokens, decimals=2).stacked()
    np.testing.assert_array_equal(rounded, np.round(arr[:, 0], 2))


def test_batch_needs_index_and_index_selects() -> None:
    arr = random_attention(2, 3, 2, 4)
    with pytest.raises(AttentionShapeError, match="batch of 3 examples.*index="):
        to_bertviz(arr, list("abcd"))
    view = to_bertviz(arr, [list("abcd"), list("efgh"), list("ijkl")], index=2, decimals=None)
    assert view.tokens == list("ijkl")
    np.testing.assert_allclose(view.stacked(), arr[:, 2])
    with pytest.raises(AttentionShapeError, match="outside the batch"):
        to_bertviz(arr, list("abcd"), index=3)


@pytest.mark.parametrize(
    ("attentions", "tokens", "kwargs", "message"),
    [
        ([np.ones((2, 4))], list("abcd"), {}, "layer 0 must be (batch, heads, q, k)"),
        (np.ones((2, 2, 4)), list("abcd"), {}, "single array of attentions must be"),
        (random_attention(2, 1, 2, 4), list("abc"), {}, "3 tokens for attention over 4"),
        ([np.full((1, 2, 3, 4), 0.25)], list("abc"), {}, "must be square"),
        (np.log(random_attention(2, 1, 2, 4)), list("abcd"), {}, "pass softmax weights"),
        ([np.ones((1, 2, 4, 4)) / 4, np.ones((1, 2, 5, 5)) / 5], list("abcd"), {}, "same shape"),
        (random_attention(2, 1, 2, 4), list("abcd"), {"attention_mask": [1, 1, 0]}, "(4,)"),
        (random_attention(2, 1, 2, 4), list("abcd"), {"sentence_b_start": 4}, "sentence_b_start"),
        ("not attention", list("abcd"), {}, "attentions must be"),
        ([np.ones((1, 2, 4, 4), dtype=np.int64)], list("abcd"), {}, "floating point"),
    ],
)
def test_clear_errors(attentions, tokens, kwargs, message) -> None:
    with pytest.raises(AttentionShapeError, match=re.escape(message)):
        to_bertviz(attentions, tokens, **kwargs)


def test_mask_with_real_tokens_only() -> None:
    arr = random_attention(1, 1, 1, 3)
    padded = np.zeros((1, 1, 1, 4, 4))
    padded[..., :3, :3] = arr
    padded[..., 3, 3] = 1.0  # a pad row attending to itself
    view = to_bertviz(padded, list("abc"), attention_mask=[1, 1, 1, 0], decimals=None)
    np.testing.assert_allclose(view.stacked(), arr[:, 0])


# --- rendering and offline export -------------------------------------------------------


def test_render_is_deterministic_and_has_bertviz_id(eager) -> None:
    tokenizer, model = eager
    view = av.extract_attention(model, tokenizer, TEXTS[0])
    for kind in av.VIEW_KINDS:
        first, second = av.render_view(view, kind), av.render_view(view, kind)
        assert first == second
        assert len(set(re.findall(r"bertviz-[0-9a-f]{32}", first))) == 1
        assert '"left_text": ["[CLS]", "the", "film"' in first
    with pytest.raises(ValueError, match="kind must be one of"):
        av.render_view(view, "neuron")  # type: ignore[arg-type]


def test_standalone_html_inlines_vendored_scripts(eager) -> None:
    tokenizer, model = eager
    page = ov.standalone_html(av.render_view(av.extract_attention(model, tokenizer, TEXTS[0])), "t")
    assert "cdnjs" not in page and "ajax/libs/d3/5.7.0/d3.min" not in page
    for name in ov.VENDOR_FILES.values():
        assert (package_file("vendor", name)).read_text(encoding="utf-8") in page
    with pytest.raises(ValueError, match="not a BertViz fragment"):
        ov.standalone_html("<div>plain</div>", "t")


def test_vendored_files_match_their_recorded_checksums() -> None:
    readme = (package_file("vendor", "README.md")).read_text(encoding="utf-8")
    for name in ov.VENDOR_FILES.values():
        digest = hashlib.sha256((package_file("vendor", name)).read_bytes()).hexdigest()
        assert re.search(rf"`{re.escape(name)}`.*`{digest}`", readme), name
    for licence in ("LICENSE-requirejs.txt", "LICENSE-d3.txt", "LICENSE-jquery.txt"):
        assert (
            "Permission" in (package_file("vendor", licence)).read_text()
            or "Redistribution" in (package_file("vendor", licence)).read_text()
        )


# --- neuron view from safetensors --------------------------------------------------------


def test_neuron_view_conversion_matches_hf_and_is_cached(
    bert_folder: Path, eager, tmp_path
) -> None:
    tokenizer, model = eager
    assert not (bert_folder / "pytorch_model.bin").exists()
    neuron_model, neuron_tok = nv.load_neuron_view_model(bert_folder, cache_dir=tmp_path)
    folder = nv.convert_for_neuron_view(bert_folder, cache_dir=tmp_path)
    assert sorted(p.name for p in folder.iterdir() if p.suffix in {".bin", ".safetensors"}) == [
        "model.safetensors"
    ]
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert nv.convert_for_neuron_view(bert_folder, cache_dir=tmp_path) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rewritten
    np.testing.assert_allclose(
        nv.neuron_attention(neuron_model, neuron_tok, TEXTS[1]),
        hf_attention(model, tokenizer, TEXTS[1]),
        atol=1e-5,
    )


def test_neuron_view_from_distilbert_matches_hf(tmp_path: Path, bert_folder: Path) -> None:
    torch.manual_seed(1)
    config = DistilBertConfig(
        vocab_size=len(VOCAB), dim=32, hidden_dim=64, n_layers=2, n_heads=2,
        max_position_embeddings=64, dropout=0.0, attention_dropout=0.0,
    )  # fmt: skip
    src = tmp_path / "distil"
    DistilBertModel(config).save_pretrained(src)
    BertTokenizerFast.from_pretrained(bert_folder).save_pretrained(src)
    hf = DistilBertModel.from_pretrained(src, attn_implementation="eager").eval()
    tokenizer = BertTokenizerFast.from_pretrained(src)
    neuron_model, neuron_tok = nv.load_neuron_view_model(src, cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(
        nv.neuron_attention(neuron_model, neuron_tok, TEXTS[0]),
        hf_attention(hf, tokenizer, TEXTS[0]),
        atol=1e-5,
    )


def test_neuron_view_refuses_pickle_only_and_other_models(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(FileNotFoundError, match="only safetensors"):
        nv.convert_for_neuron_view(tmp_path, cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="'gpt2' is\\s+not supported"):
        nv._neuron_config({"model_type": "gpt2"})


def test_neuron_html_is_rounded_and_stable(bert_folder: Path, tmp_path: Path) -> None:
    model, tokenizer = nv.load_neuron_view_model(bert_folder, cache_dir=tmp_path)
    first = nv.render_neuron_view(model, tokenizer, "the film", "was good", decimals=3)
    assert first == nv.render_neuron_view(model, tokenizer, "the film", "was good", decimals=3)
    params = re.search(r"window\.bertviz_params = (\{.*\})", first).group(1)
    assert not re.search(r"\d\.\d{4,}", params)  # every value rounded to 3 decimals
    shown = ov.notebook_html(first, scripts=False)  # two scripts: the data, then the drawing
    assert shown.index("window.bertviz_params") < shown.index("var draw = function")


# --- exported views render offline in headless Chromium ---------------------------------


@pytest.mark.skipif(os.environ.get("COURSE_SKIP_BROWSER") == "1", reason="COURSE_SKIP_BROWSER=1")
def test_exported_views_render_offline(eager, bert_folder: Path, tmp_path: Path) -> None:
    from course_utils.tooling.browser import check_page

    tokenizer, model = eager
    view = av.extract_attention(model, tokenizer, "the film", "was good")
    neuron_model, neuron_tok = nv.load_neuron_view_model(bert_folder, cache_dir=tmp_path)
    pages = {
        "head": av.render_view(view, "head"),
        "model": av.render_view(view, "model"),
        "neuron": nv.render_neuron_view(neuron_model, neuron_tok, "the film", "was good"),
    }
    for kind, fragment in pages.items():
        path = ov.export_html(fragment, tmp_path / f"{kind}.html", title=f"tiny {kind} view")
        check = check_page(path, ("svg", "svg text", "svg line", "#layer option"))
        assert check.ok, (kind, check)
        assert check.counts["svg"] == 1, (kind, check.counts)
        if kind == "model":  # one thumbnail per head: n * n lines each, no layer menu
            assert check.counts["svg line"] >= view.num_layers * view.num_heads * 7 * 7
        else:  # both token columns are drawn
            assert check.counts["svg text"] >= 2 * len(view.tokens), (kind, check.counts)
            assert check.counts["#layer option"] == view.num_layers, (kind, check.counts)


@pytest.mark.skipif(os.environ.get("COURSE_SKIP_BROWSER") == "1", reason="COURSE_SKIP_BROWSER=1")
def test_exported_head_view_switches_layers_offline(eager, tmp_path: Path) -> None:
    """The vendored jQuery 3.7.1 (BertViz pins 2.0.0) drives BertViz's layer menu."""
    from playwright.sync_api import sync_playwright

    from course_utils.tooling.browser import CHROMIUM_FLAGS, chromium_path

    tokenizer, model = eager
    view = av.extract_attention(model, tokenizer, TEXTS[1])
    path = ov.export_html(av.render_view(view, "head"), tmp_path / "head.html", "head")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("file:")
                    else (errors.append(route.request.url), route.abort())
                ),
            )
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_selector("svg line", state="attached")

            def opacities() -> list[str]:  # BertViz draws a weight as a line opacity
                return page.eval_on_selector_all(
                    "svg line", "ls => ls.map(l => l.getAttribute('stroke-opacity'))"
                )

            layer0 = opacities()
            page.select_option("#layer", "1")
            page.wait_for_timeout(300)
            layer1 = opacities()
        finally:
            browser.close()
    assert not errors, errors
    assert len(layer0) == len(layer1) > 0
    assert layer0 != layer1  # the menu redrew the graphic with the other layer's weights


def test_link_scores_average_the_named_links() -> None:
    """Hand-made weights: head (0, 1) sends 'are' to 'keys' in both examples."""
    tokens_a = ["[CLS]", "keys", "are", "[SEP]"]
    tokens_b = ["[CLS]", "the", "keys", "are", "[SEP]"]
    views = []
    for tokens in (tokens_a, tokens_b):
        n = len(tokens)
        w = np.full((1, 2, n, n), 1.0 / n)  # 1 layer, 2 heads, uniform
        q, k = tokens.index("are"), tokens.index("keys")
        w[0, 1, q] = 0.0
        w[0, 1, q, k] = 1.0
        views.append(to_bertviz(w, tokens))
    scores = av.link_scores(views, [("are", "keys"), ("are", "keys")])
    assert scores.shape == (1, 2)
    np.testing.assert_allclose(scores, [[(1 / 4 + 1 / 5) / 2, 1.0]])
    with pytest.raises(ValueError, match=r"token\(s\) \['dog'\] not in"):
        av.link_scores(views[:1], [("are", "dog")])
    with pytest.raises(ValueError, match="one \\(query, key\\) link per view"):
        av.link_scores(views, [("are", "keys")])


def test_notebook_views_carry_the_scripts_once_and_wait_for_them(monkeypatch) -> None:
    """Offline in JupyterLab a view must not need the CDN (tests/test_jupyterlab.py draws it)."""
    attn = [torch.softmax(torch.randn(1, 2, 3, 3), -1) for _ in range(2)]
    fragment = av.render_view(av.to_bertviz(attn, ["a", "b", "c"]), "head")
    monkeypatch.setattr(ov, "_scripts_sent", False)
    first, second = ov.show(fragment).data, ov.show(fragment).data
    forced = ov.show(fragment, scripts=True).data
    vendored = ov.vendored_scripts()
    assert vendored in first and vendored not in second and vendored in forced
    for html in (first, second):
        assert '<script src="https://' not in html  # no blocking CDN tag: a loader instead
        assert "if (window.requirejs) { draw(); return; }" in html
    assert len(second) - len(fragment) < 1_000  # later views: a few hundred bytes of loader
    with pytest.raises(ValueError, match="not a BertViz fragment"):
        ov.show("<div>no view</div>")
