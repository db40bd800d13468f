"""Dimensionality reduction of sentence embeddings, and how to measure what it keeps.

Taught in notebook 03, section "Dimensionality reduction, measured". :func:`reduce` runs one
of PCA, Gaussian random projection, t-SNE, UMAP, metric MDS, an autoencoder or a
variational autoencoder (:class:`AutoEncoder`, small PyTorch models trained here) and times
it. :func:`evaluate_embedding` scores a low-dimensional map against the original vectors:
trustworthiness, k-NN preservation, and how well a label (sentiment) separates in it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("pca", "random_projection", "tsne", "umap", "mds", "ae", "vae")

# Notebook 03's comparison: display name -> (method, fitted on "all" points or the "sample").
# t-SNE and MDS cost O(n^2), so they see the 2,000-sentence sample only.
COMPARISON = {
    "PCA": ("pca", "all"),
    "random projection": ("random_projection", "all"),
    "t-SNE": ("tsne", "sample"),
    "UMAP": ("umap", "all"),
    "AE": ("ae", "all"),
    "VAE": ("vae", "all"),
    "MDS": ("mds", "sample"),
}
FULL = "none (all dimensions)"  # the row of the comparison table that scores the original vectors


class AutoEncoder(nn.Module):
    """An MLP autoencoder ``d_in -> d_hidden -> d_latent -> d_hidden -> d_in``.

    With ``variational=True`` the encoder outputs a mean and a log-variance per latent
    dimension and a latent vector is sampled with the reparameterisation trick (a VAE);
    :meth:`embed` returns the mean. Inputs are standardised with the ``mean``/``std``
    buffers set by :func:`train_autoencoder`; :meth:`decode` maps back to input units.
    """

    def __init__(
        self, d_in: int, d_latent: int = 2, d_hidden: int = 128, *, variational: bool = False
    ) -> None:
        super().__init__()
        self.variational = variational
        self.d_latent = d_latent
        self.encoder = nn.Sequential(
            nn.Linear(d_in, d_hidden),
            nn.GELU(),
            nn.Linear(d_hidden, d_latent * (2 if variational else 1)),
        )
        self.decoder = nn.Sequential(
            nn.Linear(d_latent, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_in)
        )
        self.register_buffer("mean", torch.zeros(d_in))
        self.register_buffer("std", torch.ones(d_in))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``x`` ``(batch, d_in)`` standardised -> (reconstruction, latent mean, log-variance).

        The reconstruction is in standardised units; log-variance is ``None`` for a plain AE.
        """
        h = self.encoder(x)
        if not self.variational:
            return self.decoder(h), h, None
        mu, logvar = h.chunk(2, dim=-1)  # (batch, d_latent) each
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    @torch.no_grad()
    def embed(self, x: np.ndarray) -> np.ndarray:
        """Latent (mean) coordinates of raw inputs ``(n, d_in)``: shape ``(n, d_latent)``."""
        self.eval()
        xt = (torch.as_tensor(x, dtype=torch.float32) - self.mean) / self.std
        h = self.encoder(xt)
        return h[:, : self.d_latent].numpy()

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Raw-unit reconstructions ``(n, d_in)`` of latent points ``z`` ``(n, d_latent)``."""
        self.eval()
        out = self.decoder(torch.as_tensor(z, dtype=torch.float32))
        return (out * self.std + self.mean).numpy()


def autoencoder_loss(
    model: AutoEncoder, x: torch.Tensor, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, reconstruction, KL) per example for a standardised batch ``x`` ``(batch, d)``.

    Reconstruction is the squared error summed over dimensions (a unit-variance Gaussian
    decoder, up to a constant); KL is ``KL(N(mu, sigma^2) || N(0, I))`` summed over latent
    dimensions, ``0`` for a plain AE. ``loss = reconstruction + beta * KL``, batch means.
    """
    recon, mu, logvar = model(x)
    rec = ((recon - x) ** 2).sum(-1).mean()
    if logvar is None:
        kl = torch.zeros((), dtype=x.dtype)
    else:
        kl = (0.5 * (mu**2 + logvar.exp() - 1.0 - logvar)).sum(-1).mean()
    return rec + beta * kl, rec, kl


def train_step(
    model: AutoEncoder, batch: torch.Tensor, optimizer: torch.optim.Optimizer, beta: float = 1.0
) -> float:
    """One gradient step on a standardised batch; returns the loss before the step."""
    model.train()
    optimizer.zero_grad()
    loss, _, _ = autoencoder_loss(model, batch, beta)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def train_autoencoder(
    x: np.ndarray,
    *,
    d_latent: int = 2,
    variational: bool = False,
    epochs: int = 30,
    batch_size: int = 256,
    lr: float = 2e-3,
    beta: float = 1.0,
    random_state: int = 42,
    progress: bool = False,
) -> tuple[AutoEncoder, list[float]]:
    """Train an :class:`AutoEncoder` (or VAE) on ``x`` ``(n, d)``; returns it and epoch losses.

    Inputs are standardised per dimension (stored in the model). Initialisation and the
    shuffling use ``random_state`` without touching the global torch RNG's state. Training
    runs on one CPU thread: for a model this small, thread start-up costs more than it saves
    (and a busy machine makes extra threads far slower).
    """
    from course_utils.core.progress import progress as progress_bar

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"train_autoencoder() needs an (n, d) matrix with n >= 2, got {x.shape}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(random_state)
            model = AutoEncoder(x.shape[1], d_latent, variational=variational)
            data = torch.from_numpy(x)
            model.mean.copy_(data.mean(0))
            model.std.copy_(data.std(0).clamp(min=1e-6))
            data = (data - model.mean) / model.std
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            losses = []
            desc = "vae" if variational else "ae"
            for _ in progress_bar(range(epochs), desc=desc, disable=not progress):
                order = torch.randperm(len(data))
                total = 0.0
                for start in range(0, len(data), batch_size):
                    batch = data[order[start : start + batch_size]]
                    total += train_step(model, batch, optimizer, beta) * len(batch)
                losses.append(total / len(data))
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return model, losses


@dataclass
class Reduction:
    """A low-dimensional map: ``embedding`` ``(n, k)``, fit ``seconds``, fitted ``model``."""

    method: str
    embedding: np.ndarray
    seconds: float
    model: Any


def reduce(
    x: np.ndarray, method: str, n_components: int = 2, *, random_state: int = 42, **kwargs: Any
) -> Reduction:
    """Map ``x`` ``(n, d)`` to ``(n, n_components)`` with ``method`` (one of :data:`METHODS`).

    Settings: t-SNE perplexity 30 with PCA initialisation; UMAP 15 neighbours, cosine
    metric; MDS metric SMACOF from a classical-MDS start; AE/VAE via
    :func:`train_autoencoder`. ``kwargs`` override them. The wall time covers fitting and
    transforming (UMAP's first call also compiles numba code).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"reduce() needs an (n, d) matrix, got shape {x.shape}.")
    start = time.perf_counter()
    if method in ("ae", "vae"):
        model, _ = train_autoencoder(
            x,
            d_latent=n_components,
            variational=method == "vae",
            random_state=random_state,
            **kwargs,
        )
        embedding = model.embed(x)
    else:
        model = _estimator(method, n_components, random_state, kwargs)
        embedding = model.fit_transform(x)
    seconds = time.perf_counter() - start
    return Reduction(method, np.asarray(embedding, dtype=np.float32), seconds, model)


def _estimator(method: str, n_components: int, random_state: int, kwargs: dict) -> Any:
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components, random_state=random_state, **kwargs)
    if method == "random_projection":
        from sklearn.random_projection import GaussianRandomProjection

        return GaussianRandomProjection(n_components, random_state=random_state, **kwargs)
    if method == "tsne":
        from sklearn.manifold import TSNE

        params = {"perplexity": 30.0, "init": "pca"} | kwargs
        return TSNE(n_components, random_state=random_state, **params)
    if method == "umap":
        import umap

        # n_jobs=1 is what a random_state forces anyway; said here so UMAP does not warn
        params = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "n_jobs": 1} | kwargs
        return umap.UMAP(n_components=n_components, random_state=random_state, **params)
    if method == "mds":
        from sklearn.manifold import MDS

        params = {"init": "classical_mds", "n_init": 1, "max_iter": 300} | kwargs
        return MDS(n_components, random_state=random_state, **params)
    raise ValueError(f"Unknown method {method!r}; choose one of {METHODS}.")


def knn_preservation(x: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    """Mean share of each point's ``k`` nearest neighbours in ``x`` kept among its ``k`` in ``y``.

    ``x`` ``(n, d)`` and ``y`` ``(n, k')`` are the same points; Euclidean distances, the
    point itself excluded. 1 means every neighbourhood survives; random maps give ~``k/n``.
    """
    from sklearn.neighbors import NearestNeighbors

    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} points but y has {len(y)}.")
    if not 0 < k < len(x):
        raise ValueError(f"k must be in 1..{len(x) - 1}, got {k}.")
    nx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)
    ny = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    kept = [len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(nx, ny, strict=True)]
    return float(np.mean(kept) / k)


def trustworthiness(x: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    """scikit-learn's trustworthiness (Venna & Kaski): 1 = no false neighbours in ``y``."""
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    return float(sk_trustworthiness(x, y, n_neighbors=k))


def label_separation(y: np.ndarray, labels: np.ndarray, *, random_state: int = 42) -> dict:
    """How well ``labels`` separate in a map ``y`` ``(n, k)``.

    ``silhouette``: silhouette score of the label groups (-1..1, 0 = mixed);
    ``probe_acc``: 5-fold cross-validated accuracy of a logistic regression on ``y``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(5, shuffle=True, random_state=random_state)
    acc = cross_val_score(probe, y, labels, cv=folds).mean()
    return {"silhouette": float(silhouette_score(y, labels)), "probe_acc": float(acc)}


def evaluate_embedding(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, *, k: int = 10, random_state: int = 42
) -> dict[str, float]:
    """Trustworthiness, k-NN preservation (``k`` neighbours) and label separation of ``y``."""
    return {
        "trustworthiness": trustworthiness(x, y, k),
        "knn_preservation": knn_preservation(x, y, k),
        **label_separation(y, labels, random_state=random_state),
    }


def stratified_sample(labels: np.ndarray, n: int, *, random_state: int = 42) -> np.ndarray:
    """Sorted indices of ``n`` rows with the label shares of ``labels`` (no replacement)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    if n >= len(labels):
        return idx
    picked, _ = train_test_split(idx, train_size=n, stratify=labels, random_state=random_state)
    return np.sort(picked)


def compare_reductions(
    x: np.ndarray,
    labels: np.ndarray,
    sample: np.ndarray,
    plan: dict[str, tuple[str, str]] | None = None,
    *,
    random_state: int = 42,
    progress: bool = True,
) -> tuple[dict[str, Reduction], pd.DataFrame]:
    """Reduce ``x`` ``(n, d)`` to 2-D with every method of ``plan`` (default
    :data:`COMPARISON`) and score each map on the rows ``sample`` with
    :func:`evaluate_embedding`. The last table row, :data:`FULL`, scores the original vectors
    (trustworthiness and k-NN preservation 1 by definition). Returns the maps and the table
    (one row per method, rounded to 3 decimals, with a ``time`` column).
    Taught in notebook 03, section "Dimensionality reduction, measured".
    """
    import pandas as pd
    from tqdm.auto import tqdm

    maps = {}
    for name, (method, fit_on) in tqdm(
        (plan or COMPARISON).items(), desc="reduce", disable=not progress
    ):
        maps[name] = reduce(x if fit_on == "all" else x[sample], method, random_state=random_state)
    rows = []
    for name, red in maps.items():
        y2 = red.embedding if len(red.embedding) == len(sample) else red.embedding[sample]
        scores = evaluate_embedding(x[sample], y2, labels[sample], random_state=random_state)
        rows.append(
            {"method": name, "fitted on": len(red.embedding), **scores,
             "time": f"[time: {red.seconds:7.1f} s]"}
        )  # fmt: skip
    full = label_separation(x[sample], labels[sample], random_state=random_state)
    rows.append(
        {"method": FULL, "fitted on": len(x), "trustworthiness": 1.0, "knn_preservation": 1.0,
         **full, "time": ""}
    )  # fmt: skip
    return maps, pd.DataFrame(rows).set_index("method").round(3)


def comparison_claims(table: pd.DataFrame) -> dict[str, float]:
    """The quantities notebook 03 makes claims about, from a :func:`compare_reductions` table:
    how much less trustworthy random projection is than PCA/UMAP/t-SNE, how many more
    neighbours t-SNE/UMAP keep than PCA, how much sentiment every 2-D map loses against the
    original vectors, and PCA's probe accuracy (the nonlinear maps' probe accuracy swings with
    the seed and the CPU: see ``course_utils.tooling.stability.spread_table``)."""
    t, k, acc = table["trustworthiness"], table["knn_preservation"], table["probe_acc"]
    return {
        "trust_gap_random_projection": float(
            min(t["PCA"], t["UMAP"], t["t-SNE"]) - t["random projection"]
        ),
        "knn_gap_tsne_umap_over_pca": float(min(k["t-SNE"], k["UMAP"]) - k["PCA"]),
        "probe_gap_full": float(acc[FULL] - acc.drop(FULL).max()),
        "probe_acc_pca": float(acc["PCA"]),
    }
