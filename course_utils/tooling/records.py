"""Each notebook's headline numbers, collected by the course runner, not by a notebook cell.

After a notebook's last cell, :mod:`course_utils.tooling.runner` runs one more cell in the same
kernel, :func:`record` with the kernel's namespace, and removes that cell again: the numbers
(with the model and data that produced them) go into the executed notebook's metadata under
``"course_results"``, where the run summary and the slides read them
(:func:`course_utils.core.notebook.results_from_notebook`). The learner never sees this cell.

One function per notebook maps the names its cells define to the recorded numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Numbers = dict[str, Any]


class Namespace:
    """A notebook's variables; a missing one is an error that names the notebook."""

    def __init__(self, notebook: str, values: Mapping[str, Any]) -> None:
        self.notebook, self.values = notebook, values

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(
                f"{self.notebook} defines no {name!r}: update its recorder in "
                "course_utils/tooling/records.py"
            ) from None


def _00(ns: Namespace) -> Numbers:
    typicality, scores = ns["typicality"], ns["random_scores"] < ns["summary_score"]
    return dict(
        model=ns["model_name"], data=ns["env"].data.describe(),
        train_rows=ns["sizes"]["train"], test_rows=ns["sizes"]["test"],
        classify_test_accuracy=ns["cls_metrics"]["accuracy"],
        classify_test_auc=ns["cls_metrics"]["auc"],
        search_top1_score=ns["hits"][0].score, summary_sentences=len(ns["doc_texts"]),
        bigram_logprob_t05=typicality[0.5], bigram_logprob_t15=typicality[1.5],
        summary_beats_random=float(scores.mean()),
    )  # fmt: skip


def _01(ns: Namespace) -> Numbers:
    weights, by_seq = ns["weights"], ns["by_seq"]
    return dict(
        model=f"{ns['BUNDLED_MODEL']} (bundled)", data=ns["env"].data.describe(),
        minilm_max_abs_error=ns["minilm_error"], minilm_min_cosine=ns["minilm_cosine"],
        minilm_layers=len({k.split(".")[2] for k in weights if k.startswith("encoder.layer.")}),
        minilm_hidden_size=weights["embeddings.word_embeddings.weight"].shape[1],
        minilm_parameters_millions=sum(t.numel() for t in weights.values()) / 1e6,
        transformer_max_abs_diff=ns["transformer_diff"],
        bench_chunked_time_ratio_512=by_seq.get(512, {}).get("course_chunked_time_ratio"),
        bench_chunked_time_ratio_2048=by_seq.get(2048, {}).get("course_chunked_time_ratio"),
        bench_chunked_peak_ratio_4096=by_seq.get(4096, {}).get("course_chunked_peak_ratio"),
    )  # fmt: skip


def _02(ns: Namespace) -> Numbers:
    layer, head, cls_share = ns["best_layer"], ns["best_head"], ns["cls_share"]
    control = ns["control"]
    return dict(
        model=ns["model_name"], data=ns["env"].data.describe(),
        it_animal_head=f"L{layer}-H{head}",
        it_animal_weight=float(ns["weights_tired"][layer, head, ns["it"], ns["animal"]]),
        cls_sink_layer=int(cls_share.argmax()), cls_sink_share=float(cls_share.max()),
        it_wide_to_animal=float(control["animal"]), it_wide_to_street=float(control["street"]),
        neuron_view_max_diff=ns["neuron_diff"], scratch_encoder_max_diff=ns["scratch_diff"],
        decoder_val_perplexity=float(ns["val_ppl"]),
        unigram_val_perplexity=float(ns["unigram_ppl"]),
        decoder_train_steps=ns["settings"].steps,
        decoder_parameters_millions=sum(p.numel() for p in ns["gpt"].parameters()) / 1e6,
    )  # fmt: skip


def _03(ns: Namespace) -> Numbers:
    dr, cl, topic = ns["dr_table"], ns["cl_table"], ns["topic_table"]
    return dict(
        model=ns["model_name"], data=ns["env"].data.describe(),
        contextual_sense_gap_min=float(ns["gaps"].min()),
        umap_trustworthiness=float(dr.loc["UMAP", "trustworthiness"]),
        tsne_knn_preservation=float(dr.loc["t-SNE", "knn_preservation"]),
        probe_acc_full=float(dr.loc[ns["rd"].FULL, "probe_acc"]),
        kmeans_silhouette=float(cl.loc["kmeans", "silhouette"]),
        hdbscan_noise_share=float(cl.loc["hdbscan", "noise_share"]),
        ctfidf_npmi=float(topic.loc["c-TF-IDF", "npmi"]),
        lda_npmi=float(topic.loc["LDA", "npmi"]),
    )  # fmt: skip


def _04(ns: Namespace) -> Numbers:
    names, final = ns["names"], ns["final"]
    top3 = "; ".join(names[t] for t in ns["topics"].topic_table(final, top_n=3).index)
    baseline, summary = ns["baseline_summary"], ns["summary"]
    return dict(
        model=ns["model_name"], data=ns["env"].data.describe(),
        default_topics=baseline["topics"], default_outlier_share=baseline["outlier_share"],
        final_topics=summary["topics"], final_outlier_share=summary["outlier_share"],
        outlier_threshold_cosine=ns["threshold"], top_topics=top3,
    )  # fmt: skip


def _05(ns: Namespace) -> Numbers:
    frozen, tuned, config, run = ns["frozen"], ns["fine_tuned"], ns["FT_CONFIG"], ns["ft_run"]
    lecture = ns["lecture_frozen"]  # the lecture's recipe: a softmax layer on the frozen last layer
    return dict(
        model=ns["env"].model.name, data=ns["env"].data.describe(),
        softmax_head_train_auc=lecture["train"]["auc"],
        softmax_head_test_auc=lecture["test"]["auc"],
        softmax_head_test_accuracy=lecture["test"]["accuracy"],
        softmax_head_test_f1=lecture["test"]["f1"], softmax_head_loop_val_auc=ns["loop_val_auc"],
        softmax_head_fit_val_auc=ns["lecture_head_run"].best_auc,
        frozen_train_auc=frozen["train"]["auc"], frozen_test_auc=frozen["test"]["auc"],
        frozen_test_accuracy=frozen["test"]["accuracy"], frozen_test_f1=frozen["test"]["f1"],
        finetuned_train_auc=tuned["train"]["auc"], finetuned_test_auc=tuned["test"]["auc"],
        finetuned_test_accuracy=tuned["test"]["accuracy"], finetuned_test_f1=tuned["test"]["f1"],
        finetuned_train_rows=len(ns["text_data"]["train"]), finetuned_epochs=config.epochs,
        finetuned_best_epoch=run.best_epoch, finetuned_lr=config.lr,
        finetuned_val_auc=run.best_auc, top2_val_auc=ns["top2_run"].best_auc,
        torch_head_val_auc=ns["head_run"].best_auc, frozen_head=ns["FROZEN_HEAD"],
        finetuned_temperature=ns["T"], finetuned_test_ece=ns["ece_before"],
        finetuned_test_ece_scaled=ns["ece_after"],
    )  # fmt: skip


RECORDERS: dict[str, Callable[[Namespace], Numbers]] = {
    "00_llm_overview": _00,
    "01_attention_from_scratch": _01,
    "02_bertviz_attention": _02,
    "03_contextual_embeddings": _03,
    "04_bertopic_rotten_tomatoes": _04,
    "05_classification_finetuning": _05,
}


def collect(notebook: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The record of ``notebook`` from its variables: ``{"notebook", "model", "data",
    "results"}``, as :func:`course_utils.core.notebook.record_results` shows it."""
    if notebook not in RECORDERS:
        raise KeyError(f"No recorder for {notebook!r}; known: {', '.join(RECORDERS)}")
    numbers = RECORDERS[notebook](Namespace(notebook, namespace))
    model, data = numbers.pop("model"), numbers.pop("data")
    return {"notebook": notebook, "model": model, "data": data, "results": numbers}


def record(notebook: str, namespace: Mapping[str, Any]) -> None:
    """Run in the notebook's kernel by the runner: display the record with its metadata."""
    from course_utils.core.notebook import record_results

    found = collect(notebook, namespace)
    record_results(notebook, model=found["model"], data=found["data"], **found["results"])


def cell_source(notebook: str) -> str:
    """The hidden cell the runner appends to ``notebook`` (and removes after the run)."""
    return (
        "from course_utils.tooling.records import record as _course_record\n"
        f"_course_record({notebook!r}, globals())"
    )
