"""The notebooks' self-checking exercises (``course_utils.exercises``).

(a) every check says "correct" for its reference solution in ``solutions/`` (so CI runs the
solutions); (b) "not done" for the untouched starter cell of ``solutions/starters.py``, without
raising; (c) "wrong" for typical mistakes, naming the mistake, never quoting the solution, and
never raising whatever the learner's code does; (d) the registry, the starters and the solutions
agree, with 3-5 exercises per notebook of rising difficulty; (e) once a notebook holds the
exercise cells (tag "exercise", written by ``solutions/insert_cells.py``), they equal the
starters, and the solution followed by each cell's check line is "correct".
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from course_utils import exercises

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = ROOT / "solutions"


def load(path: Path) -> ModuleType:
    """A file of ``solutions/`` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STARTERS = load(SOLUTIONS_DIR / "starters.py")
SOLUTIONS = {
    nn: load(ROOT / STARTERS.solutions_file(name)) for nn, name in STARTERS.NOTEBOOKS.items()
}
IDS = list(exercises.EXERCISES)


def solution_of(exercise_id: str) -> tuple[ModuleType, str, str]:
    """(solutions module, check name, function name) of an exercise."""
    module = SOLUTIONS[exercise_id.split(".")[0]]
    check_name, answer_name = module.EXERCISES[exercise_id]
    return module, check_name, answer_name


def prediction_of(exercise_id: str) -> Any:
    """The reference solution's prediction for a predict-first exercise (``None`` otherwise)."""
    return getattr(SOLUTIONS[exercise_id.split(".")[0]], "PREDICTIONS", {}).get(exercise_id)


def checker(exercise_id: str) -> Any:
    """The exercise's check as a function of the learner's function alone: a predict-first
    check gets the reference solution's prediction."""
    exercise = exercises.EXERCISES[exercise_id]
    if exercise.choices:
        return lambda answer, *more: exercise.check(
            answer, *(more or (prediction_of(exercise_id), *inputs_of(exercise_id)))
        )
    return exercise.check


def inputs_of(exercise_id: str) -> list[Any]:
    """The reference solution's values of the starter variables a predict-first check reads."""
    module = SOLUTIONS[exercise_id.split(".")[0]]
    return [getattr(module, name) for name in exercises.EXERCISES[exercise_id].inputs]


def not_done_line(exercise_id: str) -> str:
    """What the untouched starter prints."""
    exercise = exercises.EXERCISES[exercise_id]
    if exercise.choices:
        options = ", ".join(f'"{c}"' for c in exercise.choices)
        return (
            f"… Exercise {exercise_id} not done yet: write your prediction into `prediction` "
            f"first (one of {options}): predict, then fill in and run {exercise.answer}"
        )
    return (
        f"… Exercise {exercise_id} not done yet: fill in {exercise.answer} "
        "where this cell says YOUR CODE HERE"
    )


def quiet(fn: Any, *args: Any) -> tuple[Any, str]:
    """Call ``fn``; return its result and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args)
    return result, out.getvalue()


def split_starter(source: str) -> tuple[str, str]:
    """(everything but the last line, the last line: the check call)."""
    body, _, last = source.rstrip().rpartition("\n")
    return body, last


# --- (a) the reference solutions are correct ----------------------------------------------------


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_solution_is_correct(exercise_id: str) -> None:
    module, check_name, answer_name = solution_of(exercise_id)
    assert getattr(exercises, check_name) is exercises.EXERCISES[exercise_id].check
    verdict, printed = quiet(checker(exercise_id), getattr(module, answer_name))
    assert verdict.status == "correct", verdict.line
    assert printed.strip() == verdict.line and printed.startswith(
        f"✓ Exercise {exercise_id} correct: "
    )
    assert printed.count("\n") == 1, "a check prints exactly one line"


@pytest.mark.parametrize("number", sorted(STARTERS.NOTEBOOKS))
def test_solution_file_runs_as_a_script(number: str) -> None:
    """``python solutions/exNN_*.py`` checks its exercises and exits 0 (CI can run it so)."""
    path = ROOT / STARTERS.solutions_file(STARTERS.NOTEBOOKS[number])
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("✓") == len(STARTERS.by_notebook(number)), done.stdout


# --- (b) the untouched starters are "not done" -----------------------------------------------


@pytest.mark.parametrize("exercise_id", IDS)
def test_untouched_starter_is_not_done(exercise_id: str) -> None:
    source = STARTERS.STARTERS[exercise_id]
    body, last = split_starter(source)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(body, f"<starter {exercise_id}>", "exec"), namespace)
    verdict, printed = quiet(eval, last, namespace)
    assert verdict.status == "not done", verdict.line
    assert printed.strip() == not_done_line(exercise_id)
    # the whole cell, run as a notebook runs it, prints the same line and raises nothing
    _, printed_cell = quiet(exec, compile(source, "<cell>", "exec"), {"__name__": "__main__"})
    assert printed_cell == printed


@pytest.mark.parametrize("exercise_id", IDS)
def test_starter_shape(exercise_id: str) -> None:
    """Import, one function with the marked place, the check call last, and nothing else."""
    source = STARTERS.STARTERS[exercise_id]
    exercise = exercises.EXERCISES[exercise_id]
    assert source.startswith("from course_utils import exercises\n")
    assert (
        f"def {exercise.answer}(" in source and "    # YOUR CODE HERE\n    return None\n" in source
    )
    assert split_starter(source)[1] == exercise.call
    if exercise.choices:
        assert "\nprediction = None  # " in source, "the prediction comes first, as None"
    raising = source.replace(
        "    # YOUR CODE HERE\n    return None\n", "    raise NotImplementedError\n"
    )
    body, last = split_starter(raising)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(body, "<cell>", "exec"), namespace)
    namespace["prediction"] = prediction_of(exercise_id)
    verdict, _ = quiet(eval, last, namespace)
    assert verdict.status == "not done", "raise NotImplementedError must also be 'not done'"


def test_starters_are_lint_clean_as_notebook_cells(tmp_path: Path) -> None:
    """What ``ruff check`` says of the cells once they are in a notebook (its ignores there)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    for exercise_id, source in STARTERS.STARTERS.items():
        (tmp_path / f"starter_{exercise_id.replace('.', '_')}.py").write_text(source + "\n")
    done = subprocess.run(
        [ruff, "check", "--no-cache", "--isolated", "--line-length", "100", "--select",
         "E,F,W,B,SIM,NPY,UP", "--ignore", "E402,E501,I001", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# --- (c) wrong answers are "wrong", and say why without the answer -----------------------------

# Most wrong answers below are a right answer with one edit, the mistake:
# ``mistake(RIGHT[id], (old, new))``. A right answer is the body that replaces "# YOUR CODE HERE /
# return None"; ``test_right_answers_behind_the_mistakes`` checks that each one is "correct".
NLL = """
    def nll(t):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -lp[np.arange(len(labels)), labels].mean()"""  # 05.4: the NLL at temperature t
RIGHT = {
    "00.3": """
    def words(text):
        return {w for w in WORD.findall(text.lower()) if w not in STOP_WORDS}

    wanted = words(query)
    scores = np.array([len(wanted & words(text)) for text in texts])
    return np.argsort(-scores, kind="stable")[:k].tolist()""",
    "03.4": """
    from course_utils.embeddings.static import find_word

    vectors = []
    for sentence in sentences:
        start, end = find_word(sentence, word)
        enc = tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        rows = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
        with torch.inference_mode():
            states = torch.stack(model(**enc, output_hidden_states=True).hidden_states)[:, 0]
        vectors.append(states[:, rows].mean(1))
    v = torch.nn.functional.normalize(torch.stack(vectors, 1).double(), dim=-1)
    sims = (v @ v.transpose(1, 2)).numpy()
    s = np.asarray(senses)
    same = s[:, None] == s[None, :]
    within = same & ~np.eye(len(s), dtype=bool)
    return np.array([sim[within].mean() - sim[~same].mean() for sim in sims])""",
    "04.3": """
    from hdbscan import HDBSCAN

    shares = []
    for size, samples in settings:
        labels = HDBSCAN(min_cluster_size=size, min_samples=samples, metric="euclidean",
                         cluster_selection_method="eom").fit(reduced).labels_
        shares.append(float(np.mean(labels == -1)))
    return shares""",
    "05.3": """
    sims = []
    for sentence in sentences:
        enc = tokenizer(sentence, return_tensors="pt")
        with torch.inference_mode():
            a = torch.stack(before(**enc, output_hidden_states=True).hidden_states)[:, 0]
            b = torch.stack(after(**enc, output_hidden_states=True).hidden_states)[:, 0]
        sims.append(torch.cosine_similarity(a.mean(1), b.mean(1), dim=-1))
    return torch.stack(sims).mean(0).numpy()""",
    "01.1": """
    with torch.inference_mode():
        plain = model(torch.tensor([ids]), output_attentions=True).attentions
        shuffled = model(torch.tensor([shuffled_ids]), output_attentions=True).attentions
    a, b = torch.stack([x[0] for x in plain]), torch.stack([x[0] for x in shuffled])
    tv = 0.5 * (a - b).abs().sum(-1)
    return (1 - tv).mean((1, 2)).numpy()""",
    "00.4": """
    pairs, starts = Counter(), Counter()
    for words in corpus:
        t = ["<s>", *words, "</s>"]
        for a, b in zip(t, t[1:]):
            pairs[a, b] += 1
            starts[a] += 1
    V = len({w for words in corpus for w in words}) + 1
    t = ["<s>", *sentence, "</s>"]
    return sum(math.log((pairs[a, b] + 1) / (starts[a] + V)) for a, b in zip(t, t[1:]))""",
    "01.2": """
    T = q.size(-2)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), -math.inf)
    return torch.softmax(s, -1) @ v""",
    "01.3": """
    pos = torch.arange(num_positions)[:, None].double()
    angle = pos / 10000 ** (torch.arange(0, dim, 2).double() / dim)
    return torch.stack([angle.sin(), angle.cos()], -1).flatten(1).float()""",
    "01.4": """
    T = q.size(0)
    m = torch.full((T, 1), -math.inf)
    denom, acc = torch.zeros(T, 1), torch.zeros(T, v.size(1))
    for j in range(0, T, chunk):
        s = q @ k[j:j + chunk].T / math.sqrt(q.size(1))
        future = torch.arange(j, j + s.size(1))[None] > torch.arange(T)[:, None]
        s = s.masked_fill(future, -math.inf)
        m_new = torch.maximum(m, s.max(-1, keepdim=True).values)
        p = torch.exp(s - m_new)
        denom = denom * torch.exp(m - m_new) + p.sum(-1, keepdim=True)
        acc = acc * torch.exp(m - m_new) + p @ v[j:j + chunk]
        m = m_new
    return acc / denom""",
    "02.1": """
    scores = []
    for sentence, src, dst in examples:
        enc = tokenizer(sentence, return_tensors="pt")
        tokens = tokenizer.convert_ids_to_tokens(enc['input_ids'][0])
        with torch.inference_mode():
            attn = torch.stack(model(**enc, output_attentions=True).attentions)[:, 0]
        scores.append(attn[:, :, tokens.index(src), tokens.index(dst)])
    return torch.stack(scores).mean(0).numpy()""",
    "02.2": """
    real = targets != -100
    nll = -torch.log_softmax(logits, -1).gather(-1, targets.clamp_min(0)[..., None])[..., 0]
    return nll[real].mean().exp().item()""",
    "02.3": """
    probs = torch.softmax(logits / temperature, -1)
    kept = torch.where(probs >= min_p * probs.max(), probs, torch.zeros_like(probs))
    return int(torch.multinomial(kept, 1, generator=generator))""",
    "03.2": """
    u = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim, s = u @ u.T, np.asarray(senses)
    same = s[:, None] == s[None, :]
    within = same & ~np.eye(len(s), dtype=bool)
    return float(sim[within].mean() - sim[~same].mean())""",
    "03.3": """
    from sklearn.neighbors import NearestNeighbors
    nx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)
    ny = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nx, ny)]))""",
    "04.2": """
    cl = np.unique(labels[labels != -1])
    per = np.vstack([counts[labels == c].sum(0) for c in cl]).astype(float)
    return per / per.sum(1, keepdims=True) * np.log(1 + per.sum(1).mean() / per.sum(0))""",
    "04.4": """
    ids = np.unique(topics[topics != -1])
    c = np.vstack([embeddings[topics == t].mean(0) for t in ids])
    u = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sims = u @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
    return np.where((topics == -1) & (sims.max(1) >= threshold), ids[sims.argmax(1)], topics)""",
    "05.1": """
    pred = probs >= 0.5
    tp = np.sum(pred & (labels == 1))
    p, r = tp / pred.sum(), tp / labels.sum()
    return p, r, 2 * p * r / (p + r)""",
    "05.2": """
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(labels[inside].mean() - probs[inside].mean())
    return ece""",
    "05.4": NLL
    + """
    from scipy.optimize import minimize_scalar
    best = minimize_scalar(lambda s: nll(np.exp(s)), bounds=(-4, 4), method="bounded")
    return float(np.exp(best.x))""",
}


def mistake(right: str, *edits: tuple[str, str]) -> str:
    """``right`` with every ``old`` of each ``(old, new)`` replaced by ``new``."""
    for old, new in edits:
        assert old in right, f"{old!r} is not in the right answer"
        right = right.replace(old, new)
    return right


def grid_search(grid: str) -> str:
    """05.4 with the temperature picked from ``grid`` instead of searched for."""
    return NLL + f"\n    grid = {grid}\n    return float(grid[np.argmin([nll(t) for t in grid])])"


# exercise id -> [(what the mistake is, a fragment the message must contain, the wrong code)]
WRONG: dict[str, list[tuple[str, str, str]]] = {
    "00.3": [
        (
            "repeats counted",
            "distinct word once",
            mistake(
                RIGHT["00.3"],
                (
                    "len(wanted & words(text))",
                    "sum(w in wanted for w in WORD.findall(text.lower()))",
                ),
            ),
        ),
        (
            "stop words kept",
            "stop words",
            mistake(RIGHT["00.3"], (" if w not in STOP_WORDS", "")),
        ),
        ("case kept", "upper and lower case", mistake(RIGHT["00.3"], ("text.lower()", "text"))),
        (
            "unstable ties",
            "reverse order",
            mistake(
                RIGHT["00.3"],
                (
                    'np.argsort(-scores, kind="stable")',
                    "np.lexsort((-np.arange(len(texts)), -scores))",
                ),
            ),
        ),
    ],
    "03.4": [
        (
            "diagonal kept",
            "diagonal",
            mistake(RIGHT["03.4"], (" & ~np.eye(len(s), dtype=bool)", "")),
        ),
        (
            "sentence means",
            "mean vectors",
            mistake(RIGHT["03.4"], ("states[:, rows].mean(1)", "states.mean(1)")),
        ),
        (
            "dot products",
            "dot products",
            mistake(
                RIGHT["03.4"],
                (
                    "torch.nn.functional.normalize(torch.stack(vectors, 1).double(), dim=-1)",
                    "torch.stack(vectors, 1).double()",
                ),
            ),
        ),
        (
            "last layer only",
            "shape",
            mistake(RIGHT["03.4"], ("for sim in sims])", "for sim in sims[-1:]])")),
        ),
    ],
    "04.3": [
        (
            "percent",
            "percentages",
            mistake(
                RIGHT["04.3"],
                ("float(np.mean(labels == -1))", "100 * float(np.mean(labels == -1))"),
            ),
        ),
        (
            "counts",
            "share of all sentences",
            mistake(RIGHT["04.3"], ("float(np.mean(labels == -1))", "float(np.sum(labels == -1))")),
        ),
        (
            "min_samples ignored",
            "min_samples",
            mistake(RIGHT["04.3"], ("min_samples=samples", "min_samples=None")),
        ),
        (
            "clustered share",
            "the outliers are the rest",
            mistake(RIGHT["04.3"], ("labels == -1", "labels != -1")),
        ),
    ],
    "05.3": [
        ("cls", "[CLS]", mistake(RIGHT["05.3"], ("a.mean(1), b.mean(1)", "a[:, 0], b[:, 0]"))),
        (
            "distance",
            "1 - cosine",
            mistake(RIGHT["05.3"], ("torch.stack(sims).mean(0)", "1 - torch.stack(sims).mean(0)")),
        ),
        (
            "dot",
            "dot products",
            mistake(
                RIGHT["05.3"],
                (
                    "torch.cosine_similarity(a.mean(1), b.mean(1), dim=-1)",
                    "(a.double().mean(1) * b.double().mean(1)).sum(-1)",
                ),
            ),
        ),
        (
            "last layer",
            "one number per hidden state",
            mistake(RIGHT["05.3"], ("torch.stack(sims).mean(0)", "torch.stack(sims).mean(0)[-1:]")),
        ),
    ],
    "00.1": [
        ("dot product, not cosine", "dot product", "return np.argsort(-(matrix @ query))[:k]"),
        (
            "least similar first",
            "least similar",
            "s = matrix @ query / np.linalg.norm(matrix, axis=1)\n    return np.argsort(s)[:k]",
        ),
        (
            "Euclidean distance",
            "Euclidean",
            "return np.argsort(np.linalg.norm(matrix - query, axis=1))[:k]",
        ),
        (
            "all rows",
            "returned 40",
            "s = matrix @ query / np.linalg.norm(matrix, axis=1)\n    return np.argsort(-s)",
        ),
    ],
    "00.2": [
        ("overflow", "overflow", "e = np.exp(logits / temperature)\n    return e / e.sum()"),
        (
            "multiplies by T",
            "multiplies",
            "z = logits * temperature\n    e = np.exp(z - z.max())\n    return e / e.sum()",
        ),
        ("ignores T", "ignores", "e = np.exp(logits - logits.max())\n    return e / e.sum()"),
    ],
    "00.4": [
        (
            "no smoothing",
            "not smoothed",
            mistake(
                RIGHT["00.4"], ("(pairs[a, b] + 1) / (starts[a] + V)", "pairs[a, b] / starts[a]")
            ),
        ),
        ("V counts <s>", "<s>", mistake(RIGHT["00.4"], ("}) + 1", "}) + 2"))),
        ("no </s>", "</s>", mistake(RIGHT["00.4"], (', "</s>"]', "]"), ("}) + 1", "})"))),
        ("log10", "base 10", mistake(RIGHT["00.4"], ("math.log(", "math.log10("))),
    ],
    "01.1": [
        ("no half", "without the half", mistake(RIGHT["01.1"], ("0.5 * ", ""))),
        ("distance", "1 - TV", mistake(RIGHT["01.1"], ("(1 - tv)", "tv"))),
        (
            "max over heads",
            "maximum over heads",
            mistake(RIGHT["01.1"], (".mean((1, 2))", ".mean(2).max(1).values")),
        ),
        (
            "one per head",
            "one number per layer",
            mistake(RIGHT["01.1"], (".mean((1, 2))", ".mean(2)")),
        ),
    ],
    "01.2": [
        ("no √d", "not divided by √d", mistake(RIGHT["01.2"], (" / math.sqrt(q.size(-1))", ""))),
        (
            "divides by d",
            "instead of √d",
            mistake(RIGHT["01.2"], ("math.sqrt(q.size(-1))", "q.size(-1)")),
        ),
        (
            "no mask",
            "no causal mask",
            "return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1) @ v",
        ),
        ("diagonal masked", "attends to nothing", mistake(RIGHT["01.2"], (".tril()", ".tril(-1)"))),
        (
            "mask after softmax",
            "after the softmax",
            """
    T = q.size(-2)
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)
    return (w * torch.ones(T, T).tril()) @ v""",
        ),
        (
            "softmax over queries",
            "over the queries",
            mistake(RIGHT["01.2"], ("softmax(s, -1)", "softmax(s, -2)")),
        ),
    ],
    "01.3": [
        (
            "sin/cos swapped",
            "swapped",
            mistake(RIGHT["01.3"], ("[angle.sin(), angle.cos()]", "[angle.cos(), angle.sin()]")),
        ),
        (
            "halves",
            "alternate",
            mistake(
                RIGHT["01.3"],
                (
                    "stack([angle.sin(), angle.cos()], -1).flatten(1)",
                    "cat([angle.sin(), angle.cos()], -1)",
                ),
            ),
        ),
        (
            "exponent per column",
            "own frequency",
            mistake(
                RIGHT["01.3"],
                ("torch.arange(0, dim, 2)", "torch.arange(dim)"),
                (
                    "torch.stack([angle.sin(), angle.cos()], -1).flatten(1)",
                    "torch.where(torch.arange(dim) % 2 == 0, angle.sin(), angle.cos())",
                ),
            ),
        ),
        (
            "positions from 1",
            "start at 1",
            mistake(RIGHT["01.3"], ("arange(num_positions)", "arange(1, num_positions + 1)")),
        ),
    ],
    "01.4": [
        (
            "no causal mask (the notebook's kernel)",
            "no causal mask",
            mistake(RIGHT["01.4"], ("s = s.masked_fill(future, -math.inf)", "")),
        ),
        (
            "the diagonal masked too: NaN",
            "NaN",
            mistake(RIGHT["01.4"], ("] > torch", "] >= torch")),
        ),
        (
            "no rescaling of the running sums",
            "rescaled",
            # -1e9, not -inf: without the rescaling a row whose first chunk is all masked is NaN
            mistake(
                RIGHT["01.4"], (" * torch.exp(m - m_new)", ""), ("1), -math.inf)", "1), -1e9)")
            ),
        ),
    ],
    "02.1": [
        (
            "swapped",
            "attn[i, j]",
            mistake(
                RIGHT["02.1"],
                ("tokens.index(src), tokens.index(dst)", "tokens.index(dst), tokens.index(src)"),
            ),
        ),
        (
            "no [CLS]",
            "one token off",
            mistake(
                RIGHT["02.1"],
                (
                    "tokenizer.convert_ids_to_tokens(enc['input_ids'][0])",
                    "tokenizer.tokenize(sentence)",
                ),
            ),
        ),
        ("summed", "average them", mistake(RIGHT["02.1"], (".mean(0)", ".sum(0)"))),
        ("one number", "shape", mistake(RIGHT["02.1"], (".mean(0).numpy()", ".mean().numpy()"))),
    ],
    "02.2": [
        (
            "per-sentence mean",
            "2-token",
            mistake(
                RIGHT["02.2"], ("nll[real].mean()", "((nll * real).sum(1) / real.sum(1)).mean()")
            ),
        ),
        (
            "mean of perplexities",
            "perplexities",
            mistake(
                RIGHT["02.2"],
                ("nll[real].mean().exp()", "((nll * real).sum(1) / real.sum(1)).exp().mean()"),
            ),
        ),
        ("padding counted", "padding", mistake(RIGHT["02.2"], ("nll[real]", "nll"))),
        ("cross-entropy", "exponential", mistake(RIGHT["02.2"], (".exp().item()", ".item()"))),
        (
            "base 2",
            "raises 2",
            mistake(
                RIGHT["02.2"], ("nll[real].mean().exp().item()", "(2 ** nll[real].mean()).item()")
            ),
        ),
    ],
    "02.3": [
        (
            "ignores temperature",
            "ignore the temperature",
            mistake(RIGHT["02.3"], (" / temperature", "")),
        ),
        (
            "multiplies by temperature",
            "multiply",
            mistake(RIGHT["02.3"], ("/ temperature", "* temperature")),
        ),
        (
            "absolute threshold",
            "min_p itself",
            mistake(RIGHT["02.3"], ("min_p * probs.max()", "min_p")),
        ),
        (
            "uniform",
            "uniformly",
            mistake(
                RIGHT["02.3"],
                (
                    "torch.where(probs >= min_p * probs.max(), probs, torch.zeros_like(probs))",
                    "(probs >= min_p * probs.max()).double()",
                ),
            ),
        ),
        (
            "no filter",
            "min-p should have cut",
            mistake(
                RIGHT["02.3"],
                (
                    "torch.where(probs >= min_p * probs.max(), probs, torch.zeros_like(probs))",
                    "probs",
                ),
            ),
        ),
        ("greedy", "never drawn", "return int(logits.argmax())"),
    ],
    "03.1": [
        ("padding averaged in", "[PAD]", "return hidden.mean(1)"),
        (
            "divides by T",
            "padded length",
            "return (hidden * attention_mask[..., None]).sum(1) / hidden.size(1)",
        ),
        ("CLS", "[CLS]", "return hidden[:, 0]"),
    ],
    "03.2": [
        ("self-pairs counted", "itself", mistake(RIGHT["03.2"], ("sim[within]", "sim[same]"))),
        ("dot product", "dot products", mistake(RIGHT["03.2"], ("u @ u.T", "vectors @ vectors.T"))),
        (
            "across minus within",
            "across minus within",
            mistake(
                RIGHT["03.2"],
                ("sim[within].mean() - sim[~same]", "sim[~same].mean() - sim[within]"),
            ),
        ),
    ],
    "03.3": [
        (
            "the point is its own neighbour",
            "own neighbour",
            mistake(
                RIGHT["03.3"],
                ("(x).kneighbors(", "(x).kneighbors(x, "),
                ("(y).kneighbors(", "(y).kneighbors(y, "),
            ),
        ),
        (
            "a count, not a share",
            "number of neighbours",
            mistake(RIGHT["03.3"], (" / k for", " for")),
        ),
        (
            "cosine distance",
            "cosine",
            mistake(RIGHT["03.3"], ("n_neighbors=k)", 'n_neighbors=k, metric="cosine")')),
        ),
    ],
    "04.1": [
        (
            "-1 counted as a topic",
            "as a topic",
            "return len(set(topics)), topics.count(-1) / len(topics)",
        ),
        ("largest id + 1", "largest id", "return max(topics) + 1, topics.count(-1) / len(topics)"),
        (
            "a count, not a share",
            "number of outliers",
            "return len(set(topics) - {-1}), topics.count(-1)",
        ),
        (
            "a percentage",
            "percentage",
            "return len(set(topics) - {-1}), 100 * topics.count(-1) / len(topics)",
        ),
    ],
    "04.2": [
        (
            "raw counts",
            "raw counts",
            mistake(RIGHT["04.2"], ("per / per.sum(1, keepdims=True) *", "per *")),
        ),
        ("no 1 +", "without the 1 +", mistake(RIGHT["04.2"], ("np.log(1 + ", "np.log("))),
        (
            "A is the total",
            "total number of words",
            mistake(RIGHT["04.2"], ("per.sum(1).mean() /", "per.sum() /")),
        ),
        (
            "document frequency",
            "clusters containing",
            mistake(RIGHT["04.2"], ("/ per.sum(0))", "/ (per > 0).sum(0))")),
        ),
        (
            "-1 kept as a cluster",
            "one row too many",
            mistake(RIGHT["04.2"], ("labels[labels != -1]", "labels")),
        ),
    ],
    "04.4": [
        (
            "members move too",
            "only outliers",
            mistake(
                RIGHT["04.4"],
                ("(topics == -1) & (sims.max(1) >= threshold)", "sims.max(1) >= threshold"),
            ),
        ),
        (
            "threshold ignored",
            "threshold is not applied",
            mistake(RIGHT["04.4"], ("(topics == -1) & (sims.max(1) >= threshold)", "topics == -1")),
        ),
        (
            "dot product",
            "dot product",
            mistake(
                RIGHT["04.4"],
                ("u @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T", "embeddings @ c.T"),
            ),
        ),
    ],
    "05.1": [
        ("> 0.5", ">= 0.5", mistake(RIGHT["05.1"], (">= 0.5", "> 0.5"))),
        (
            "swapped",
            "swapped",
            mistake(
                RIGHT["05.1"],
                ("tp / pred.sum(), tp / labels.sum()", "tp / labels.sum(), tp / pred.sum()"),
            ),
        ),
        (
            "arithmetic mean",
            "harmonic",
            mistake(RIGHT["05.1"], ("2 * p * r / (p + r)", "(p + r) / 2")),
        ),
    ],
    "05.2": [
        (
            "unweighted",
            "without weighting",
            """
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    gaps = [abs(labels[bins == b].mean() - probs[bins == b].mean())
            for b in range(n_bins) if (bins == b).any()]
    return float(np.mean(gaps))""",
        ),
        (
            "1.0 falls out (np.digitize)",
            "1.0",
            mistake(
                RIGHT["05.2"],
                (
                    "np.minimum((probs * n_bins).astype(int), n_bins - 1)",
                    "np.digitize(probs, np.linspace(0, 1, n_bins + 1)) - 1",
                ),
            ),
        ),
        (
            "squared",
            "squared",
            mistake(
                RIGHT["05.2"],
                (
                    "abs(labels[inside].mean() - probs[inside].mean())",
                    "(labels[inside].mean() - probs[inside].mean()) ** 2",
                ),
            ),
        ),
        (
            "confidence ECE",
            "confidence",
            # the same bins, but of the top-label confidence, against whether that label is right
            "conf = np.maximum(probs, 1 - probs)\n"
            "labels, probs = ((probs >= 0.5) == (labels == 1)).astype(float), conf" + RIGHT["05.2"],
        ),
    ],
    "05.4": [
        ("reciprocal", "reciprocal", mistake(RIGHT["05.4"], ("logits / t", "logits * t"))),
        ("nothing fitted", "T = 1", "return 1.0"),
        ("coarse grid", "lowers the validation NLL", grid_search("np.arange(0.5, 5.01, 0.5)")),
        ("search only above 1", "below", grid_search("np.linspace(1, 5, 4001)")),
    ],
}

PRELUDE = "import math\nfrom collections import Counter\n\nimport numpy as np\nimport torch\n\n"


def make_function(exercise_id: str, body: str) -> Any:
    """The starter's function with ``body`` in place of ``# YOUR CODE HERE / return None``."""
    starter_body, _ = split_starter(STARTERS.STARTERS[exercise_id])
    indented = "\n".join(
        line if not line.strip() or line.startswith("    ") else "    " + line
        for line in body.strip("\n").splitlines()
    )
    source = starter_body.replace("    # YOUR CODE HERE\n    return None", indented)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(PRELUDE + source, f"<wrong {exercise_id}>", "exec"), namespace)
    return namespace[exercises.EXERCISES[exercise_id].answer]


def solution_lines(exercise_id: str) -> list[str]:
    """The non-trivial code lines of the reference solution (what a message must not quote)."""
    module, _, answer_name = solution_of(exercise_id)
    source = inspect.getsource(getattr(module, answer_name))
    lines = [line.strip() for line in source.splitlines()[1:]]
    return [
        line
        for line in lines
        if len(line) >= 12
        and not line.startswith(("#", '"""', "def ", "return float("))
        and '"""' not in line
    ]


CASES = [(i, why, fragment, body) for i, cases in WRONG.items() for why, fragment, body in cases]


@pytest.mark.parametrize(
    ("exercise_id", "why", "fragment", "body"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_wrong_answer_is_rejected_with_a_reason(
    exercise_id: str, why: str, fragment: str, body: str
) -> None:
    wrong = make_function(exercise_id, body)
    verdict, printed = quiet(checker(exercise_id), wrong)
    assert verdict.status == "wrong", f"{why}: {verdict.line}"
    assert printed.startswith(f"✗ Exercise {exercise_id} not yet right: "), printed
    assert fragment in verdict.message, f"{why}: expected {fragment!r} in {verdict.message!r}"
    for line in solution_lines(exercise_id):
        assert line not in verdict.message, f"the message quotes the solution: {line!r}"
    assert "Traceback" not in printed


@pytest.mark.parametrize("exercise_id", sorted(RIGHT))
def test_right_answers_behind_the_mistakes(exercise_id: str) -> None:
    """Each wrong answer made with ``mistake`` is one edit away from a right one."""
    verdict, _ = quiet(checker(exercise_id), make_function(exercise_id, RIGHT[exercise_id]))
    assert verdict.status == "correct", verdict.line


@pytest.mark.parametrize("exercise_id", IDS)
def test_every_exercise_has_wrong_answers(exercise_id: str) -> None:
    assert len(WRONG.get(exercise_id, [])) >= 1


@pytest.mark.parametrize("exercise_id", IDS)
def test_check_never_raises(exercise_id: str) -> None:
    """Whatever the learner's code does, the check answers with a verdict."""
    check = checker(exercise_id)

    def boom(*args: Any) -> Any:
        raise ValueError("boom")

    verdict, _ = quiet(check, boom)
    assert (
        verdict.status == "wrong" and "ValueError" in verdict.message and "boom" in verdict.message
    )
    for nonsense in ("nonsense", [[1, 2], [3]], {"a": 1}, float("nan")):
        verdict, printed = quiet(check, lambda *args, value=nonsense: value)
        assert verdict.status == "wrong", (nonsense, verdict.line)
        assert printed.count("\n") == 1
    for not_done in (None, ..., lambda *args: None, lambda *args: ...):
        assert quiet(check, not_done)[0].status == "not done"
    verdict, _ = quiet(check, 42)
    assert verdict.status == "wrong" and "expected the function" in verdict.message


# --- (d) registry, starters and solutions agree ------------------------------------------------


def test_registry_starters_and_solutions_agree() -> None:
    solved = {i: entry for module in SOLUTIONS.values() for i, entry in module.EXERCISES.items()}
    assert set(exercises.EXERCISES) == set(STARTERS.STARTERS) == set(STARTERS.TASKS) == set(solved)
    for exercise_id, exercise in exercises.EXERCISES.items():
        check_name, answer_name = solved[exercise_id]
        assert getattr(exercises, check_name) is exercise.check
        assert answer_name == exercise.answer
        module = SOLUTIONS[exercise_id.split(".")[0]]
        assert callable(getattr(module, answer_name)), f"{exercise_id}: no function {answer_name}"
        assert exercise.notebook == STARTERS.NOTEBOOKS[exercise_id.split(".")[0]]


@pytest.mark.parametrize("number", sorted(STARTERS.NOTEBOOKS))
def test_each_notebook_has_3_to_5_exercises_of_rising_difficulty(number: str) -> None:
    ids = STARTERS.by_notebook(number)
    chosen = [exercises.EXERCISES[i] for i in ids]
    assert 3 <= len(ids) <= 5, ids
    assert ids == [f"{number}.{k}" for k in range(1, len(ids) + 1)]
    levels = [e.difficulty for e in chosen]
    assert levels == sorted(levels) and levels[0] < levels[-1], levels
    assert any(e.kind == "function" for e in chosen), "at least one exercise needs code"


@pytest.mark.parametrize("exercise_id", IDS)
def test_task_text(exercise_id: str) -> None:
    exercise = exercises.EXERCISES[exercise_id]
    task = STARTERS.TASKS[exercise_id]
    assert task.startswith(f"### Exercise {exercise_id} · {exercise.title} {exercise.stars}\n\n")
    assert f"`{exercise.answer}(" in task, "the task names the function to write"
    if exercise.choices:
        assert "**Predict** first" in task and all(f'`"{c}"`' in task for c in exercise.choices)
    assert not any(line.startswith(("# ", "## ")) for line in task.splitlines()), (
        "a level-1/2 heading would end the exercises section for solutions/insert_cells.py"
    )


def test_summary_and_verify_all() -> None:
    lines = exercises.summary().splitlines()
    assert len(lines) == len(exercises.EXERCISES) and all(
        i in s for i, s in zip(IDS, lines, strict=True)
    )
    module = SOLUTIONS["03"]
    verdicts, printed = quiet(exercises.verify_all, vars(module))
    assert set(verdicts) == set(module.EXERCISES) and all(verdicts.values()), printed
    assert quiet(exercises.check, "03.1", None)[0].status == "not done"


# --- (e) the notebooks' exercise cells ------------------------------------------------------


def notebook_cells(notebook: str) -> list[dict[str, Any]]:
    path = ROOT / "notebooks" / f"{notebook}.ipynb"
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def exercise_cells(notebook: str) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, c)
        for i, c in enumerate(notebook_cells(notebook))
        if "exercise" in c.get("metadata", {}).get("tags", [])
    ]


@pytest.mark.parametrize("number", sorted(STARTERS.NOTEBOOKS))
def test_notebook_exercise_cells_match_and_pass_with_the_solution(number: str) -> None:
    notebook = STARTERS.NOTEBOOKS[number]
    found = exercise_cells(notebook)
    if not found:
        pytest.skip(
            f"{notebook}.ipynb has no cells tagged 'exercise' yet; insert them with "
            f"`python solutions/insert_cells.py notebooks/{notebook}.ipynb`"
        )
    cells = notebook_cells(notebook)
    ids = [c["metadata"].get("exercise") for _, c in found]
    assert ids == STARTERS.by_notebook(number), f"{notebook}: exercise cells {ids}"
    solution = ROOT / STARTERS.solutions_file(notebook)
    for (index, cell), exercise_id in zip(found, ids, strict=True):
        source = "".join(cell["source"])
        assert source == STARTERS.STARTERS[exercise_id], (
            f"{notebook} cell {index} ({exercise_id}) differs from solutions/starters.py; "
            "rerun solutions/insert_cells.py"
        )
        task = cells[index - 1]
        assert (
            task["cell_type"] == "markdown"
            and "".join(task["source"]) == STARTERS.TASKS[exercise_id]
        )
        namespace = load(solution).__dict__
        namespace["prediction"] = prediction_of(exercise_id)
        verdict, _ = quiet(eval, split_starter(source)[1], namespace)
        assert verdict.status == "correct", f"{notebook} {exercise_id}: {verdict.line}"
    intro = cells[found[0][0] - 2]
    assert "".join(intro["source"]) == STARTERS.intro(notebook)


# --- (f) predict → run → explain on the real model ----------------------------------------

PREDICTING = [i for i, e in exercises.EXERCISES.items() if e.choices]


@pytest.mark.parametrize("exercise_id", PREDICTING)
def test_prediction_comes_first_and_is_told_whether_it_held(exercise_id: str) -> None:
    """On the real bundled model: no prediction is "not done" even with a right function; a
    prediction outside the choices is "wrong"; every choice with the right function is
    "correct", and the message says whether that prediction held."""
    exercise = exercises.EXERCISES[exercise_id]
    module, _, answer_name = solution_of(exercise_id)
    solution = getattr(module, answer_name)
    inputs = inputs_of(exercise_id)
    verdict, _ = quiet(exercise.check, solution, None, *inputs)
    assert verdict.status == "not done" and "prediction" in verdict.message
    assert "predict, then fill in and run" in verdict.message
    verdict, _ = quiet(exercise.check, solution, "no idea", *inputs)
    assert verdict.status == "wrong" and "one of" in verdict.message
    held = []
    for choice in exercise.choices:
        verdict, printed = quiet(exercise.check, solution, choice.upper(), *inputs)
        assert verdict.status == "correct", verdict.line
        assert printed.count("\n") == 1
        held.append(f'You predicted "{choice}": it held' in verdict.message)
        assert held[-1] or f'You predicted "{choice}", the model says' in verdict.message
    assert sum(held) == 1, "exactly one prediction holds"
    assert "Why: " in verdict.message
