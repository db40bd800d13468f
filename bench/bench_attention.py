"""Time and peak memory of the course's attention kernels vs PyTorch's fused op, same run.

    python bench/bench_attention.py            # 2 threads, batch 8, 12 heads, head dim 64

Kernels: ``torch.nn.functional.scaled_dot_product_attention`` (the reference),
``course_utils.transformer.attention.scaled_dot_product_attention`` (textbook, materialises the
scores) and ``course_utils.transformer.attention.chunked_attention`` (online softmax, plain PyTorch
ops).

Time: for each sequence length the kernels run in turn, ``--reps`` rounds (interleaved, so
that a busy machine slows all of them alike); a ratio is a kernel's time over the reference's
in the same round, and the median ratio is reported (with each kernel's best time).

Peak memory: every (kernel, length) runs once in a fresh subprocess, which fills its inputs,
resets the kernel's peak resident-memory counter and reports how far the peak rose above the
resident size during the call: output plus workspace, in bytes the operating system really
backed (Linux ``VmHWM``; ``tracemalloc`` would not see torch's allocations).

Writes ``course_utils/results/attention.json`` and ``attention.png`` (package data: notebook 01
shows them) and ``bench/results/attention.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_utils.transformer.attention import chunked_attention, scaled_dot_product_attention

RESULTS = Path(__file__).resolve().parent / "results"
# package data, so that an installed course (Colab) shows the recorded table in notebook 01
RECORD = Path(__file__).resolve().parents[1] / "course_utils" / "results" / "attention.json"
KERNELS = {
    "torch_sdpa": F.scaled_dot_product_attention,
    "course_naive": scaled_dot_product_attention,
    "course_chunked": chunked_attention,
}
REFERENCE = "torch_sdpa"
NAIVE_MAX_BYTES = 4 * 2**30  # skip the textbook kernel where its scores alone exceed this
TIME_TARGET = 1.5  # the course's goal for the chunked kernel at seq 512 and 2048


def make_inputs(batch: int, heads: int, seq: int, dim: int) -> tuple[torch.Tensor, ...]:
    """Query, key, value ``(batch, heads, seq, dim)`` float32, filled in place (no temporaries)."""
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.empty(batch, heads, seq, dim).normal_(generator=gen) for _ in range(3))


def naive_fits(batch: int, heads: int, seq: int) -> bool:
    """Whether the textbook kernel's ``(batch, heads, seq, seq)`` scores stay under the cap."""
    return batch * heads * seq * seq * 4 <= NAIVE_MAX_BYTES


def time_kernels(args: argparse.Namespace, seq: int) -> dict[str, float | None]:
    """Interleaved timing at one sequence length: best seconds and median ratio per kernel."""
    q, k, v = make_inputs(args.batch, args.heads, seq, args.dim)
    names = [n for n in KERNELS if n != "course_naive" or naive_fits(args.batch, args.heads, seq)]
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for name in names:  # warm-up
            KERNELS[name](q, k, v)
        for _ in range(args.reps):
            for name in names:
                start = time.perf_counter()
                KERNELS[name](q, k, v)
                times[name].append(time.perf_counter() - start)
    row: dict[str, float | None] = {}
    for name in KERNELS:
        ts = times.get(name)
        row[f"{name}_s"] = min(ts) if ts else None
        row[f"{name}_time_ratio"] = (
            statistics.median(t / r for t, r in zip(ts, times[REFERENCE], strict=True))
            if ts
            else None
        )
    return row


def _status_kib(field: str) -> int:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (the memory measurement needs Linux)")


def measure_peak(kernel: str, args: argparse.Namespace, seq: int) -> int:
    """Child process: growth of peak resident memory (bytes) over one call of ``kernel``.

    The kernel's peak is the process's peak resident size (``VmHWM``, reset just before the
    call by writing 5 to ``/proc/self/clear_refs``) minus the resident size before the call.
    """
    torch.set_num_threads(args.threads)
    with torch.inference_mode():  # one-off library and thread start-up is not the kernel's
        KERNELS[kernel](*make_inputs(args.batch, args.heads, 16, args.dim))
    q, k, v = make_inputs(args.batch, args.heads, seq, args.dim)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _status_kib("VmRSS")
    with torch.inference_mode():
        KERNELS[kernel](q, k, v)
    return (_status_kib("VmHWM") - before) * 1024


def peak_in_subprocess(kernel: str, args: argparse.Namespace, seq: int) -> int:
    """Run :func:`measure_peak` in a fresh interpreter and return its result."""
    cmd = [sys.executable, __file__, "--peak-of", kernel, "--seqs", str(seq)]
    cmd += ["--batch", str(args.batch), "--heads", str(args.heads), "--dim", str(args.dim)]
    cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def to_markdown(record: dict) -> str:
    """The results table (ratios to the reference; peak memory in MiB)."""
    lines = [
        f"# Attention kernels vs torch SDPA ({record['config']})",
        "",
        f"Command: `{record['command']}`  ",
        f"Machine: {record['machine']}; torch {record['torch']}",
        "",
        "| seq | SDPA time (s) | naive / SDPA time | chunked / SDPA time "
        "| SDPA peak (MiB) | naive peak (MiB) | chunked peak (MiB) | chunked / SDPA peak |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def fmt(x: float | None, spec: str) -> str:
        return "not run" if x is None else format(x, spec)

    for r in record["results"]:
        lines.append(
            f"| {r['seq']} | {r['torch_sdpa_s']:.3f} | {fmt(r['course_naive_time_ratio'], '.2f')}"
            f" | {r['course_chunked_time_ratio']:.2f} | {r['torch_sdpa_peak_mib']:.0f}"
            f" | {fmt(r['course_naive_peak_mib'], '.0f')} | {r['course_chunked_peak_mib']:.0f}"
            f" | {r['course_chunked_peak_ratio']:.2f} |"
        )
    lines += ["", record["method"], ""]
    return "\n".join(lines)


def plot(record: dict, path: Path) -> None:
    """Two panels: time ratio to SDPA and peak memory, against sequence length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = record["results"]
    seqs = [r["seq"] for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, label in (("course_naive", "naive softmax(QKᵀ)V"), ("course_chunked", "chunked")):
        pts = [(r["seq"], r[f"{name}_time_ratio"]) for r in rows if r[f"{name}_time_ratio"]]
        ax_t.plot(*zip(*pts, strict=True), marker="o", label=label)
        pts = [(r["seq"], r[f"{name}_peak_mib"]) for r in rows if r[f"{name}_peak_mib"]]
        ax_m.plot(*zip(*pts, strict=True), marker="o", label=label)
    ax_m.plot(seqs, [r["torch_sdpa_peak_mib"] for r in rows], marker="o", label="torch SDPA")
    ax_t.axhline(1.0, color="gray", lw=1, label="torch SDPA")
    ax_t.axhline(TIME_TARGET, color="gray", lw=1, ls="--", label=f"target {TIME_TARGET}x")
    ax_t.set(xscale="log", xlabel="sequence length", ylabel="time / SDPA time")
    ax_m.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="peak memory (MiB)")
    for ax in (ax_t, ax_m):
        ax.set_xticks(seqs, [str(s) for s in seqs])
        ax.minorticks_off()
        ax.legend()
    fig.suptitle(f"Attention on CPU: {record['config']}")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqs", type=int, nargs="+", default=[128, 512, 2048, 4096])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the .md")
    parser.add_argument("--record", type=Path, default=RECORD, help="the JSON (.png beside it)")
    parser.add_argument("--peak-of", choices=list(KERNELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_of:
        print(measure_peak(args.peak_of, args, args.seqs[0]))
        return

    torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()[0]
    config = (
        f"batch {args.batch}, {args.heads} heads, head dim {args.dim}, float32, "
        f"{args.threads} CPU threads"
    )
    results = []
    for seq in tqdm(args.seqs, desc="sequence lengths"):
        row = {"seq": seq, **time_kernels(args, seq)}
        for name in KERNELS:
            ran = name != "course_naive" or naive_fits(args.batch, args.heads, seq)
            row[f"{name}_peak_mib"] = peak_in_subprocess(name, args, seq) / 2**20 if ran else None
        row["course_chunked_peak_ratio"] = (
            row["course_chunked_peak_mib"] / row["torch_sdpa_peak_mib"]
        )
        results.append(row)
        tqdm.write(json.dumps(row))
    record = {
        "config": config,
        "command": "python " + " ".join(["bench/bench_attention.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, "
        f"load average at the start {load_at_start:.1f} (shared machine)",
        "torch": torch.__version__,
        "method": (
            "Time: kernels interleaved per round, ratio = kernel / SDPA in the same round, "
            f"median of {args.reps} rounds after a warm-up. Peak: growth of resident memory "
            "over one call in a fresh subprocess (Linux VmHWM, reset via /proc/self/clear_refs, "
            "minus VmRSS before the call: output + workspace; inputs excluded). The naive "
            f"kernel is not run where its scores alone would exceed "
            f"{NAIVE_MAX_BYTES / 2**30:.0f} GiB."
        ),
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(record, indent=2) + "\n")
    (args.out / "attention.md").write_text(to_markdown(record))
    plot(record, args.record.with_name("attention.png"))
    print(to_markdown(record))


if __name__ == "__main__":
    main()
