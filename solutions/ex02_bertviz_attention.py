"""Reference solutions of notebook 02's exercises (02_bertviz_attention), as a learner fills in
the starter cells. Run ``python solutions/ex02_bertviz_attention.py`` to check them all."""

import numpy as np
import torch

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "02.1": ("check_relation_head", "link_weights"),
    "02.2": ("check_perplexity", "perplexity"),
    "02.3": ("check_sample_min_p", "sample_min_p"),
}

#: The predictions of the predict-first exercises, written before running them.
PREDICTIONS = {"02.1": "yes"}


# --- 02.1 -----------------------------------------------------------------------------------
# The relation: an adjective -> the noun it describes (the head is chosen on CHOOSE).
CHOOSE = [
    ("She bought a red sports car last week.", "red", "car"),
    ("The tall man opened the door.", "tall", "man"),
    ("We walked along a quiet country road at night.", "quiet", "road"),
    ("He told a funny story about his dog.", "funny", "story"),
    ("They live in a small white house near the sea.", "small", "house"),
]
HELD_OUT = [
    ("A young girl sang a sad song.", "young", "girl"),
    ("The old stone bridge crosses a wide river.", "old", "bridge"),
    ("I read a long and boring book on the train.", "long", "book"),
]


def link_weights(model, tokenizer, examples) -> np.ndarray:
    """(layers, heads): mean attention weight from each example's from_word to its to_word."""
    scores = []
    for sentence, from_word, to_word in examples:
        enc = tokenizer(sentence, return_tensors="pt")
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])  # with [CLS] and [SEP]
        with torch.inference_mode():
            attn = torch.stack(model(**enc, output_attentions=True).attentions)[:, 0]
        scores.append(attn[:, :, tokens.index(from_word), tokens.index(to_word)])  # (L, H)
    return torch.stack(scores).mean(0).numpy()


# --- 02.2 -----------------------------------------------------------------------------------
def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """exp(mean cross-entropy over the real tokens) of a padded batch: logits (B, T, V),
    targets (B, T) with -100 on padding."""
    real = targets != -100
    log_probs = torch.log_softmax(logits, dim=-1)
    nll = -log_probs.gather(-1, targets.clamp_min(0)[..., None])[..., 0]  # (B, T)
    return nll[real].mean().exp().item()


# --- 02.3 -----------------------------------------------------------------------------------
def sample_min_p(logits: torch.Tensor, min_p: float, temperature: float,
                 generator: torch.Generator) -> int:  # fmt: skip
    """One token id drawn among those at least min_p times as likely as the most likely one."""
    probs = torch.softmax(logits / temperature, dim=-1)
    kept = torch.where(probs >= min_p * probs.max(), probs, torch.zeros_like(probs))
    return int(torch.multinomial(kept / kept.sum(), 1, generator=generator))


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
