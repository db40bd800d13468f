"""Reference solutions of notebook 02's exercises (02_bertviz_attention), as a learner fills in
the starter cells. Run ``python solutions/ex02_bertviz_attention.py`` to check them all."""

import numpy as np
import torch

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "02.1": ("check_previous_token_share", "previous_token_share"),
    "02.2": ("check_perplexity", "perplexity"),
    "02.3": ("check_sample_top_p", "sample_top_p"),
}


# --- 02.1 -----------------------------------------------------------------------------------
def previous_token_share(attn: np.ndarray) -> np.ndarray:
    """(layers, heads, n, n) -> (layers, heads): mean weight from token i to token i - 1."""
    return np.diagonal(attn, offset=-1, axis1=2, axis2=3).mean(-1)


# --- 02.2 -----------------------------------------------------------------------------------
def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """exp(mean cross-entropy) of the targets (T,) under softmax(logits (T, V))."""
    log_probs = torch.log_softmax(logits, dim=-1)
    nll = -log_probs[torch.arange(len(targets)), targets]
    return nll.mean().exp().item()


# --- 02.3 -----------------------------------------------------------------------------------
def sample_top_p(logits: torch.Tensor, top_p: float, temperature: float,
                 generator: torch.Generator) -> int:  # fmt: skip
    """One token id drawn from the top-p nucleus of softmax(logits / temperature)."""
    probs = torch.softmax(logits / temperature, dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    mass_before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the more likely tokens
    kept = torch.where(mass_before < top_p, sorted_probs, torch.zeros_like(sorted_probs))
    pick = torch.multinomial(kept / kept.sum(), 1, generator=generator)
    return int(order[pick])


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
