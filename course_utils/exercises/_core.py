"""The machinery of the self-checking exercises: verdicts, the registry, running a check.

Each exercise has a starter cell in its notebook: the learner fills in one function where it
says ``# YOUR CODE HERE`` and the cell's last line passes that function to a ``check_*``
function of :mod:`course_utils.exercises`. Most checks build their own small, seeded inputs (no
notebook variable, no model, well under a second on a CPU), run the learner's function on them
and print one line:

- ``✓ Exercise 01.2 correct: <what was verified>``
- ``✗ Exercise 01.2 not yet right: <why, without the answer>``
- ``… Exercise 01.2 not done yet: fill in causal_attention where this cell says YOUR CODE HERE``

The predict → run → explain exercises (:func:`_experiment`) run the learner's function on the
course's real model and data instead: the learner first writes ``prediction`` (one of the
exercise's ``choices``), the check compares the function's result with a reference computed on
the spot and, once it is right, says what the model does and whether the prediction held, and
why. The model and data load once per process (:func:`_encoder`, :func:`_sentences`).

Every check returns a :class:`Verdict` and never raises: an untouched starter (its function
returns ``None`` or raises ``NotImplementedError``) is "not done", and any other exception in
the learner's code is reported as "wrong" with its type and message, so a notebook with its
exercises left undone still runs top to bottom (and under nbval). Where a wrong answer
matches a typical mistake (the diagonal masked out, no √d scaling, padding counted in a
mean, ...) the message names the mistake.

A check is a function ``body(answer) -> str`` registered with :func:`_exercise`: it returns
what it verified or raises :class:`_Wrong`; the helpers below (:func:`_call`, :func:`_tensor`,
:func:`_match`, ...) run the learner's function and convert and compare what it returns.
:data:`EXERCISES` lists every exercise (id → :class:`Exercise`); :func:`summary` prints
them, :func:`verify_all` runs the checks on the functions of a namespace.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

Status = Literal["correct", "wrong", "not done"]

STARS = {1: "★", 2: "★★", 3: "★★★"}


# --- verdicts and the registry --------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``status`` is ``"correct"``, ``"wrong"`` or ``"not done"``;
    ``message`` says what was verified, why the answer is wrong, or what to fill in."""

    exercise: str
    status: Status
    message: str

    @property
    def line(self) -> str:
        """The one line the check prints."""
        if self.status == "correct":
            return f"✓ Exercise {self.exercise} correct: {self.message}"
        if self.status == "wrong":
            return f"✗ Exercise {self.exercise} not yet right: {self.message}"
        return f"… Exercise {self.exercise} not done yet: {self.message}"

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return self.line

    def _ipython_display_(self) -> None:
        """Show nothing in Jupyter: the check has printed :attr:`line` already, so a check
        call as a cell's last line gives one output line, not two."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``id`` ``"NN.k"`` (notebook NN, k-th exercise), its ``title``,
    ``difficulty`` 1-3 (★ to ★★★), the name of the function the learner writes
    (``answer``), whether the answer is a function (``kind``) and its ``check``."""

    id: str
    notebook: str
    title: str
    difficulty: int
    answer: str
    check: Callable[..., Verdict]
    kind: Literal["function", "value"] = "function"
    #: A predict → run → explain exercise on the real model: the answers the learner may write
    #: into ``prediction`` before running (empty for an exercise on synthetic inputs).
    choices: tuple[str, ...] = ()
    #: The starter's variables a predict-first check also reads (e.g. the learner's sentences).
    inputs: tuple[str, ...] = ()

    @property
    def call(self) -> str:
        """The starter cell's last line: the check called on the learner's function (and, for
        a predict-first exercise, on ``prediction`` and the :attr:`inputs`)."""
        args = [self.answer, *(["prediction"] if self.choices else []), *self.inputs]
        return f"exercises.{self.check.__name__}({', '.join(args)})"

    @property
    def stars(self) -> str:
        return STARS[self.difficulty]


#: Notebook number -> notebook name (``notebooks/<name>.ipynb``; reference solutions in
#: ``solutions/ex<name>.py``). The one list: ``solutions/starters.py`` imports it.
NOTEBOOKS = {
    "00": "00_llm_overview",
    "01": "01_attention_from_scratch",
    "02": "02_bertviz_attention",
    "03": "03_contextual_embeddings",
    "04": "04_bertopic_rotten_tomatoes",
    "05": "05_classification_finetuning",
}

#: Every exercise, in notebook order: ``{"01.2": Exercise(...), ...}``.
EXERCISES: dict[str, Exercise] = {}


class _NotDone(Exception):
    """The learner's function is still the starter (returns None / NotImplementedError)."""


class _Wrong(Exception):
    """The answer is wrong; the message says why (never what the answer is)."""


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _call(fn: Callable[..., Any], *args: Any, when: str = "") -> Any:
    """Run the learner's function: ``None``, ``...`` or ``NotImplementedError`` mean "not
    done"; any other exception becomes a :class:`_Wrong` with its type and message."""
    try:
        with np.errstate(all="ignore"):
            result = fn(*args)
    except NotImplementedError:
        raise _NotDone from None
    except Exception as err:  # the learner's code: report it, never raise
        where = f" {when}" if when else ""
        raise _Wrong(f"your function raised {type(err).__name__}{where}: {_short(err)}") from None
    if result is None or result is Ellipsis:
        raise _NotDone
    return result


def _run(exercise_id: str, answer_name: str, body: Callable[[Any], str], answer: Any) -> Verdict:
    if answer is None or answer is Ellipsis:
        return Verdict(
            exercise_id, "not done", f"fill in {answer_name} where this cell says YOUR CODE HERE"
        )
    if not callable(answer):
        return Verdict(
            exercise_id,
            "wrong",
            f"expected the function {answer_name}, got a {type(answer).__name__}",
        )
    try:
        verified = body(answer)
    except _Unavailable as why:
        return Verdict(exercise_id, "not done", f"the check could not load what it needs ({why})")
    except _NotDone as todo:
        return Verdict(
            exercise_id,
            "not done",
            str(todo) or f"fill in {answer_name} where this cell says YOUR CODE HERE",
        )
    except _Wrong as wrong:
        return Verdict(exercise_id, "wrong", str(wrong))
    except Exception as err:  # the answer's value broke the comparison (a type, a shape)
        return Verdict(
            exercise_id,
            "wrong",
            f"your result could not be checked ({type(err).__name__}: {_short(err)}); "
            "is it of the type and shape the task asks for?",
        )
    return Verdict(exercise_id, "correct", verified)


def _register(exercise: Exercise) -> Callable[..., Verdict]:
    """Put ``exercise`` in :data:`EXERCISES` (its notebook from its id); return its check."""
    notebook = NOTEBOOKS[exercise.id.split(".")[0]]
    EXERCISES[exercise.id] = dataclasses.replace(exercise, notebook=notebook)
    return exercise.check


def _exercise(
    exercise_id: str, title: str, difficulty: int, answer: str
) -> Callable[[Callable[[Any], str]], Callable[[Any], Verdict]]:
    """Register a check. ``body(answer)`` returns what it verified, or raises ``_Wrong``."""

    def register(body: Callable[[Any], str]) -> Callable[[Any], Verdict]:
        @functools.wraps(body)
        def check_answer(answer_value: Any) -> Verdict:
            verdict = _run(exercise_id, answer, body, answer_value)
            print(verdict.line)
            return verdict

        check_answer.__annotations__ = {"answer_value": "Any", "return": "Verdict"}
        return _register(Exercise(exercise_id, "", title, difficulty, answer, check_answer))

    return register


def _experiment(
    exercise_id: str,
    title: str,
    difficulty: int,
    answer: str,
    choices: tuple[str, ...],
    inputs: tuple[str, ...] = (),
) -> Callable[[Callable[..., str]], Callable[..., Verdict]]:
    """Register a predict → run → explain check on the real model and data.

    The learner first writes ``prediction`` (one of ``choices``), then the function. The check
    ``body(answer, prediction)`` runs the function on the model the course loads, compares its
    result with a reference computed on the spot, and returns what it verified followed by
    whether the prediction held and why; or raises ``_Wrong``. ``inputs`` name more of the
    starter's variables that the check receives after ``prediction`` (``body(answer,
    prediction, *values)``).
    """

    def register(body: Callable[..., str]) -> Callable[..., Verdict]:
        @functools.wraps(body)
        def check_answer(answer_value: Any, prediction: Any = None, *values: Any) -> Verdict:
            verdict = _run_experiment(
                exercise_id,
                answer,
                choices,
                lambda fn, guess: body(fn, guess, *values),
                answer_value,
                prediction,
            )
            print(verdict.line)
            return verdict

        check_answer.__annotations__ = {
            "answer_value": "Any",
            "prediction": "Any",
            "values": "Any",
            "return": "Verdict",
        }
        exercise = Exercise(exercise_id, "", title, difficulty, answer, check_answer)
        return _register(dataclasses.replace(exercise, choices=choices, inputs=inputs))

    return register


def _choices_text(choices: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _run_experiment(
    exercise_id: str,
    answer_name: str,
    choices: tuple[str, ...],
    body: Callable[[Any, str], str],
    answer: Any,
    prediction: Any,
) -> Verdict:
    """:func:`_run` for a predict-first exercise: no prediction is "not done" (predict before
    running), a prediction that is not one of ``choices`` is "wrong"."""
    if prediction is None or (isinstance(prediction, str) and not prediction.strip()):
        return Verdict(
            exercise_id,
            "not done",
            f"write your prediction into `prediction` first (one of {_choices_text(choices)}): "
            f"predict, then fill in and run {answer_name}",
        )
    guess = str(prediction).strip().lower()
    if guess not in choices:
        return Verdict(
            exercise_id,
            "wrong",
            f"`prediction` is {prediction!r}; write one of {_choices_text(choices)}",
        )
    return _run(exercise_id, answer_name, lambda fn: body(fn, guess), answer)


def _held(prediction: str, outcome: str) -> str:
    """The sentence that tells the learner whether the prediction held."""
    if prediction == outcome:
        return f'You predicted "{prediction}": it held'
    return f'You predicted "{prediction}", the model says "{outcome}"'


def check(exercise_id: str, answer: Any, prediction: Any = None, *values: Any) -> Verdict:
    """Run the check of exercise ``exercise_id`` (e.g. ``"01.2"``) on ``answer`` (and, for a
    predict-first exercise, on ``prediction`` and the values of its :attr:`Exercise.inputs`)."""
    exercise = EXERCISES[exercise_id]
    if exercise.choices:
        return exercise.check(answer, prediction, *values)
    return exercise.check(answer)


def verify_all(
    namespace: Mapping[str, Any], ids: Iterable[str] | None = None
) -> dict[str, Verdict]:
    """Check every exercise in ``ids`` (default: those whose function ``namespace`` defines)
    on the function of that name in ``namespace`` (and its prediction: ``PREDICTIONS[id]``);
    prints one line each."""
    chosen = (
        list(ids) if ids is not None else [i for i, e in EXERCISES.items() if e.answer in namespace]
    )
    return {
        i: check(
            i,
            namespace.get(EXERCISES[i].answer),
            _prediction_in(namespace, i),
            *(namespace.get(name) for name in EXERCISES[i].inputs),
        )
        for i in chosen
    }


def _prediction_in(namespace: Mapping[str, Any], exercise_id: str) -> Any:
    """A predict-first exercise's prediction in a solutions file: ``PREDICTIONS[id]``, else the
    variable ``prediction`` (as in a notebook cell)."""
    predictions = namespace.get("PREDICTIONS") or {}
    return predictions.get(exercise_id, namespace.get("prediction"))


def summary() -> str:
    """One line per exercise: id, difficulty, title, the function to write, its check."""
    return "\n".join(
        f"{e.id}  {e.stars:<3}  {e.title:<42} {e.answer:<28} {e.check.__name__}"
        for e in EXERCISES.values()
    )


# --- converting what the learner returns ----------------------------------------------------


def _tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(value))
    except Exception:
        raise _Wrong(f"expected a tensor or array, got a {type(value).__name__}") from None


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except Exception:
        raise _Wrong(f"expected an array of numbers, got a {type(value).__name__}") from None


def _float(value: Any) -> float:
    if isinstance(value, torch.Tensor | np.ndarray):
        if value.size != 1 if isinstance(value, np.ndarray) else value.numel() != 1:
            raise _Wrong(f"expected a single number, got an array of shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _Wrong(f"expected a single number, got a {type(value).__name__}")
    return float(value)


def _shape(got: torch.Tensor | np.ndarray, expected: Sequence[int], what: str) -> None:
    if tuple(got.shape) != tuple(expected):
        raise _Wrong(f"{what} has shape {tuple(got.shape)}; expected {tuple(expected)}")


def _match(got: Any, variants: Mapping[str, Any], close: Callable[[Any, Any], bool]) -> str | None:
    """The description of the first typical mistake whose result equals ``got``."""
    for why, value in variants.items():
        try:
            if close(got, value):
                return why
        except Exception:
            continue
    return None


def _allclose(atol: float = 1e-5, rtol: float = 1e-5) -> Callable[[Any, Any], bool]:
    def close(a: Any, b: Any) -> bool:
        a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
        return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=rtol))

    return close


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# --- the real model and data, for the predict-first exercises -------------------------------


@functools.cache
def _encoder(name: str | None = None, attentions: bool = True) -> Any:
    """The course's encoder (``load_encoder``: the resolver's choice, or ``name``), with eager
    attention unless ``attentions`` is false (then the faster default kernel), loaded once per
    process and quietly (the check prints one line)."""
    import contextlib
    import io

    from course_utils.core.models import load_encoder

    with contextlib.redirect_stdout(io.StringIO()):
        return load_encoder(name, attentions=attentions, verbose=False)


@functools.cache
def _sentences(split: str) -> tuple[str, ...]:
    """The Rotten Tomatoes sentences of ``split``, from where the course finds its data."""
    import contextlib
    import io

    from course_utils.core.data import load_rotten_tomatoes

    with contextlib.redirect_stdout(io.StringIO()):
        return tuple(load_rotten_tomatoes()[split]["text"])


class _Unavailable(Exception):
    """The course's model or data could not be loaded; the message says how to fix it."""


def _course(load: Callable[[], Any]) -> Any:
    """``load()`` (the model or the data); its clear error becomes :class:`_Unavailable`."""
    try:
        return load()
    except Exception as err:  # ModelError, DataError: their messages say what to do
        raise _Unavailable(f"{type(err).__name__}: {_short(err)}") from None
