"""Progress bars that stay cheap in Jupyter: a bounded number of redraws per bar.

In a notebook every redraw of a ``tqdm`` bar is a widget message on the kernel's IOPub channel.
A cell that trains for minutes with a redraw per step (tqdm's default redraws up to ten times a
second, and ``set_postfix`` redraws on every call) sends thousands of them; past ZeroMQ's
high-water mark (1,000 queued messages) messages are dropped, and a client that reads them only
after the cell ends (nbval does) never sees the cell finish. :func:`progress` redraws a bar at
most about :data:`MAX_REDRAWS` times and at most once a second; pass ``refresh=False`` to
``set_postfix`` so a postfix waits for the next redraw.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_REDRAWS = 50  # redraws per bar, at most (plus the first and the last)
MIN_SECONDS = 1.0  # between two redraws, at least


def progress(
    iterable: Iterable[Any],
    *,
    desc: str,
    total: int | None = None,
    disable: bool = False,
    **kwargs: Any,
) -> Any:
    """``tqdm.auto.tqdm(iterable)`` with bounded redraws (see the module docstring).

    ``total`` defaults to ``len(iterable)`` when it has one; without a total the bar redraws at
    most once a second. Other keyword arguments go to ``tqdm`` (``unit``, ``file``, ...).
    """
    from tqdm.auto import tqdm

    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    miniters = max(1, total // MAX_REDRAWS) if total else 1
    return tqdm(
        iterable, desc=desc, total=total, disable=disable, mininterval=MIN_SECONDS,
        miniters=miniters, **kwargs,
    )  # fmt: skip
