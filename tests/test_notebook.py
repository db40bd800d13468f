"""course_utils.core.notebook (setup, seeds, results) and course_utils.tooling.runner."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from course_utils.core import devices, notebook
from course_utils.tooling import runner


def draw() -> tuple[float, float, float]:
    legacy_numpy = float(np.random.rand())  # noqa: NPY002 (the global generator is seeded)
    return random.random(), legacy_numpy, float(torch.rand(1))


def test_seed_everything_repeats_all_generators() -> None:
    notebook.seed_everything(7)
    first = draw()
    notebook.seed_everything(7)
    assert draw() == first
    notebook.seed_everything(8)
    assert draw() != first


def test_setup_reports_model_and_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    env = notebook.setup(seed=3, device="cpu")
    out = capsys.readouterr().out
    assert env.device == torch.device("cpu") and env.seed == 3
    assert env.data.kind == "folder" and env.data.location == str(tmp_path)
    assert "torch " in out and "device: cpu" in out
    assert f"data: Rotten Tomatoes (local files .../{tmp_path.name}, COURSE_DATA_DIR)" in out
    assert "model: sentence-transformers/all-MiniLM-L6-v2 [bundled]" in out
    assert out.count("hub: offline - HF_HUB_OFFLINE is set") == 1
    assert str(tmp_path) not in out  # no machine's absolute path in a notebook's output


def test_pick_device_honours_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert devices.pick_device() == torch.device("cpu")
    assert devices.pick_device("meta") == torch.device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_a_device_this_machine_lacks_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="'cuda' was requested.*cannot use it here"):
        devices.pick_device()


def test_record_results_prints_outside_a_kernel(capsys) -> None:
    notebook.record_results("99_demo", model="m", data="d", auc=0.912345, n=3)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Results of 99_demo  (model: m; data: d)"
    assert out[1].split() == ["auc", "0.9123"] and out[2].split() == ["n", "3"]
    with pytest.raises(ValueError, match="model and data"):
        notebook.record_results("99_demo", model="", data="d", auc=1.0)


def test_format_number_keeps_small_errors_visible() -> None:
    assert notebook.format_number(0.912345) == "0.9123"
    assert notebook.format_number(1.4424e-05) == "1.44e-05"  # not 0.0000
    assert notebook.format_number(0.0001) == "0.0001"
    assert notebook.format_number(0.0) == "0.0000" and notebook.format_number(7) == "7"


def test_summary_table_survives_pipes_and_newlines() -> None:
    run = runner.NotebookRun("02_x", 1.0, ok=False, error="ValueError: a | b\nsecond line")
    row = runner.summarise([run]).splitlines()[-1]
    assert row.startswith("| 02_x | FAILED: ValueError: a \\| b second line | 1.0 |")
    assert row.count(" | ") == 6  # seven cells, as in the header


def test_the_runner_counts_claims_checked_and_reported() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    text = "Claims (model: m):\n  ok    a (q >= 1)\n  info  b: q = 2 with m; claimed for n: >= 3\n"
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    found = runner.claims_printed(nb)
    assert found["enforced"] == ["a (q >= 1)"]
    assert found["reported"] == ["b: q = 2 with m; claimed for n: >= 3"]


def test_the_runner_can_stop_before_a_heading() -> None:
    """make depth runs each notebook's core path only: the cells before a heading."""
    cells = [
        nbformat.v4.new_markdown_cell("# 05 title"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("## 3. Fine-tuning"),
        nbformat.v4.new_code_cell("y"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    assert runner.cells_before(nb, "## 3.") == 2
    with pytest.raises(ValueError, match="'## 9.'; the headings: \\['# 05 title', '## 3. Fine"):
        runner.cells_before(nb, "## 9.")


def make_notebook(path: Path, code: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def toy_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A one-sentence data folder in COURSE_DATA_DIR: the runner checks for data first."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        (data / name).write_text("a sentence\n")
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))


def test_runner_stops_at_once_without_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    notebook_path = make_notebook(tmp_path / "00_x.ipynb", ["raise SystemExit('must not run')"])
    start = time.perf_counter()
    assert runner.main([str(notebook_path), "--build-dir", str(tmp_path / "build")]) == 2
    assert time.perf_counter() - start < 5
    err = capsys.readouterr().err
    assert "No Rotten Tomatoes data" in err and "COURSE_DATA_DIR" in err
    assert not (tmp_path / "build").exists()


def test_runner_executes_and_summarises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy_data(monkeypatch, tmp_path)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    make_notebook(
        nbs / "00_ok.ipynb",
        [
            "from course_utils.core.notebook import record_results\nx = 6 * 7\nprint(x)",
            'record_results("00_ok", model="tiny", data="toy", answer=x)',
            "from course_utils.core.progress import progress\n"
            "for _ in progress(range(40), desc='steps'):\n    pass\n"
            "for _ in progress(range(3), desc='gone', leave=False):\n    pass",
        ],
    )
    make_notebook(nbs / "01_broken.ipynb", ["assert 1 == 2, 'course check failed'"])
    build = tmp_path / "build"
    code = runner.main(
        [str(nbs / "00_ok.ipynb"), str(nbs / "01_broken.ipynb"), "--build-dir", str(build)]
    )
    assert code == 1  # one notebook failed
    executed = nbformat.read(build / "notebooks" / "00_ok.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    shown = executed.cells[1].outputs[0]
    assert shown["data"]["text/plain"].startswith("Results of 00_ok  (model: tiny; data: toy)")
    # progress bars are saved as they ended, as text (no widget state is kept); a bar that
    # closed itself (leave=False) is gone, as it is on screen
    bars = [o["data"] for o in executed.cells[2].outputs]
    assert bars == [{"text/plain": "steps: 100%|██████████| 40/40"}], bars
    assert notebook.results_from_notebook(build / "notebooks" / "00_ok.ipynb") == {
        "notebook": "00_ok",
        "model": "tiny",
        "data": "toy",
        "results": {"answer": 42},
    }
    summary = (build / "results.md").read_text()
    assert "| 00_ok | ok |" in summary and "| tiny | toy | 0 / 0 | answer=42 |" in summary
    assert (
        "| 01_broken | FAILED: AssertionError: course check failed "
        "(in code cell 1, line `assert 1 == 2, 'course check failed'`) |" in summary
    )
    runs = json.loads((build / "results.json").read_text())
    assert [r["ok"] for r in runs] == [True, False]


def test_discover_orders_course_notebooks(tmp_path: Path) -> None:
    for name in ("02_b.ipynb", "00_a.ipynb", "scratch.ipynb", "10_c.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in runner.discover(tmp_path)] == ["00_a.ipynb", "02_b.ipynb", "10_c.ipynb"]


def test_committed_notebooks_carry_their_results() -> None:
    """Every committed notebook was executed by the runner, which stored its record."""
    for path in runner.discover(Path(__file__).resolve().parents[1] / "notebooks"):
        record = notebook.results_from_notebook(path)
        assert record is not None, f"{path.name} has no recorded results"
        assert record["notebook"] == path.stem
        assert record["model"] and record["data"] and record["results"]


def stale_notebook(path: Path) -> Path:
    """A notebook whose committed outputs include a record, with a cell that now fails."""
    make_notebook(
        path,
        [
            "x = 1",
            "assert x == 2, 'x changed'",
            "from course_utils.core.notebook import record_results\n"
            'record_results("03_stale", model="m", data="d", answer=41)',
        ],
    )
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # what an earlier, successful run left behind
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
        cell.execution_count = 7
    nb.cells[2].outputs.append(
        nbformat.v4.new_output(
            "display_data",
            data={"text/plain": "Results of 03_stale"},
            metadata={
                notebook.RESULTS_METADATA_KEY: {
                    "notebook": "03_stale",
                    "model": "m",
                    "data": "d",
                    "results": {"answer": 41},
                }
            },
        )  # fmt: skip
    )
    nbformat.write(nb, path)
    return path


def with_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy_data(monkeypatch, tmp_path)


def test_a_failed_run_reports_nothing_from_an_earlier_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_data(monkeypatch, tmp_path)
    path = stale_notebook(tmp_path / "03_stale.ipynb")
    build = tmp_path / "build"
    assert runner.main([str(path), "--build-dir", str(build)]) == 1
    executed = nbformat.read(build / "notebooks" / "03_stale.ipynb", as_version=4)
    texts = [o.get("text", "") for c in executed.cells for o in c.outputs]
    assert "old output\n" not in texts and executed.cells[2].outputs == []
    assert notebook.results_from_notebook(build / "notebooks" / "03_stale.ipynb") is None
    (run,) = json.loads((build / "results.json").read_text())
    assert run["record"] == {} and "answer" not in (build / "results.md").read_text()
    assert run["error"] == (
        "AssertionError: x changed (in code cell 2, line `assert x == 2, 'x changed'`)"
    )


def test_a_failed_inplace_run_never_replaces_the_committed_notebook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_data(monkeypatch, tmp_path)
    path = stale_notebook(tmp_path / "03_stale.ipynb")
    committed = path.read_bytes()
    assert runner.main([str(path), "--inplace"]) == 1
    assert path.read_bytes() == committed
    failed = tmp_path / "03_stale.failed.ipynb"
    assert nbformat.read(failed, as_version=4).cells[1].outputs[0]["ename"] == "AssertionError"
    assert [p.name for p in runner.discover(tmp_path)] == ["03_stale.ipynb"]


def test_every_notebook_assert_says_what_failed() -> None:
    bare = {p.name: runner.asserts_without_message(p) for p in runner.discover(Path("notebooks"))}
    assert len(bare) == 6
    assert not any(bare.values()), {name: found for name, found in bare.items() if found}


def test_a_bare_assert_is_found(tmp_path: Path) -> None:
    path = make_notebook(
        tmp_path / "00_x.ipynb",
        ["import sys\nif 0:\n    %pip install x\nassert 1, 'fine'", "x = 1\nassert x == 1"],
    )
    assert runner.asserts_without_message(path) == ["cell 2: assert x == 1"]


def test_mixed_precision_only_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    assert devices.autocast_dtype("cpu") is None
    assert devices.autocast_dtype(torch.device("mps")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert devices.autocast_dtype("cuda:0") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert devices.autocast_dtype("cuda") is torch.float16  # older GPUs: fp16 (+ a scaler)


def test_quiet_logs_leaves_warnings_alone() -> None:
    """Library chatter goes; a FutureWarning or DeprecationWarning from learner code stays."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        notebook.quiet_logs()
        warnings.warn("going away", FutureWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    assert [w.category for w in caught] == [FutureWarning, DeprecationWarning]


def test_committed_outputs_read_cleanly() -> None:
    """No committed output shows a progress bar's first frame, a path of the machine that ran
    it, or a library's raw warning (issue: outputs a learner can read)."""
    found = {
        path.name: runner.reader_problems(nbformat.read(path, as_version=4))
        for path in runner.discover(Path(__file__).resolve().parents[1] / "notebooks")
    }
    assert not {name: problems for name, problems in found.items() if problems}


def test_reader_problems_are_found() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "training:   0%|          | 0/400 [00:00<?]"}
        ),
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="/home/me/.venv/lib/python3.11/site-packages/umap/umap_.py:1952: UserWarning: "
            "n_jobs value 1 overridden\n",
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "training: 100%|██████████| 400/400"}
        ),
        nbformat.v4.new_output("stream", name="stdout", text="views/head.html, 10.5% of 0.5%|\n"),
    ]
    nb.cells = [cell]
    problems = runner.reader_problems(nb)
    assert [p.split(":")[1].strip() for p in problems] == [
        "a progress bar saved at 0%",
        "an absolute path",
        "a raw library warning",
    ]


TOY_04 = """import types
import pandas as pd
model_name = "tiny"
env = types.SimpleNamespace(data=types.SimpleNamespace(describe=lambda: "toy data"))
names, final, threshold = {0: "a", 1: "b", 2: "c"}, None, 0.3
topics = types.SimpleNamespace(topic_table=lambda model, top_n: pd.DataFrame(index=[2, 0, 1]))
baseline_summary = {"topics": 150, "outlier_share": 0.5}
summary = {"topics": 30, "outlier_share": 0.1}"""


def test_the_runner_records_the_headline_numbers_out_of_sight(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 29: no record_results cell in the notebook; the runner's hidden cell reads the
    kernel's variables, stores the record in the notebook's metadata and leaves no cell."""
    toy_data(monkeypatch, tmp_path)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    good = make_notebook(nbs / "04_bertopic_rotten_tomatoes.ipynb", [TOY_04])
    broken = make_notebook(nbs / "03_contextual_embeddings.ipynb", ["model_name = 'tiny'"])
    build = tmp_path / "build"
    assert runner.main([str(good), str(broken), "--build-dir", str(build)]) == 1
    executed = nbformat.read(build / "notebooks" / good.name, as_version=4)
    assert len(executed.cells) == 1  # the hidden cell is gone
    assert notebook.results_from_notebook(build / "notebooks" / good.name) == {
        "notebook": "04_bertopic_rotten_tomatoes", "model": "tiny", "data": "toy data",
        "results": {"default_topics": 150, "default_outlier_share": 0.5, "final_topics": 30,
                    "final_outlier_share": 0.1, "outlier_threshold_cosine": 0.3,
                    "top_topics": "c; a; b"},
    }  # fmt: skip
    runs = {r["notebook"]: r for r in json.loads((build / "results.json").read_text())}
    assert runs["04_bertopic_rotten_tomatoes"]["record"]["model"] == "tiny"
    error = runs["03_contextual_embeddings"]["error"]
    assert error.startswith("the runner's record of 03_contextual_embeddings failed: KeyError")
    assert "03_contextual_embeddings defines no 'dr_table'" in error
    assert "records.py" in error
    # a notebook that still records its numbers itself gets no hidden cell
    own = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("record_results('x')")])
    assert runner.recorder_cell(own, "04_bertopic_rotten_tomatoes") is None
    assert runner.recorder_cell(nbformat.v4.new_notebook(), "99_unknown") is None


def test_limit_threads_caps_every_pool_in_a_fresh_process() -> None:
    """setup(threads=1) (notebook 03) caps PyTorch, OpenMP/BLAS and numba alike."""
    import subprocess
    import sys

    code = (
        "from course_utils.core.notebook import limit_threads\n"
        "limit_threads(1)\n"
        "import numba, torch\n"
        "from threadpoolctl import threadpool_info\n"
        "print(numba.config.NUMBA_NUM_THREADS, torch.get_num_threads(),"
        " sorted({p['num_threads'] for p in threadpool_info()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1", "[1]"], out.stdout


def test_the_runner_times_the_core_path() -> None:
    """The core path's kernel time: the code cells before "## Going further", from nbclient's
    execution timestamps."""

    def timed(source: str, start: str, end: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["execution"] = {"iopub.execute_input": start, "shell.execute_reply": end}
        return cell

    cells = [
        timed("a", "2026-12-07T10:00:00.000000Z", "2026-12-07T10:00:02.500000Z"),
        nbformat.v4.new_markdown_cell("## Going further"),
        timed("b", "2026-12-07T10:00:03Z", "2026-12-07T10:01:03Z"),
    ]
    assert runner.core_seconds(nbformat.v4.new_notebook(cells=cells)) == pytest.approx(2.5)
    assert runner.cell_seconds(nbformat.v4.new_code_cell("never ran")) == 0.0
    assert runner.core_seconds(nbformat.v4.new_notebook(cells=cells[:1])) is None
