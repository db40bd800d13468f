"""course_utils.embeddings.reduction: metrics with known answers, reducers, AE/VAE training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from course_utils.embeddings import reduction as rd


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP/BLAS thread: tiny inputs gain nothing from more, and on a busy machine
    multi-threaded OpenMP code can crawl (t-SNE on 60 points: 30 s instead of 0.2 s)."""
    import sklearn.manifold  # noqa: F401 - load the OpenMP runtime so that the limit reaches it

    with threadpool_limits(1):
        yield


def blobs(n: int = 60, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two well-separated Gaussian blobs in ``d`` dimensions and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, d)) * 0.1 + labels[:, None] * 5.0
    return x.astype(np.float32), labels


def test_knn_preservation_known_answers() -> None:
    x, _ = blobs()
    assert rd.knn_preservation(x, x, k=5) == 1.0
    assert rd.knn_preservation(x, 3.0 * x + 1.0, k=5) == 1.0  # similarity maps keep neighbours
    line = np.arange(5.0)[:, None] ** 2  # points at 0 1 4 9 16: 1-NNs are 1,0,1,2,3
    assert rd.knn_preservation(line, -line, k=1) == 1.0  # a mirror keeps every neighbour
    moved = line[::-1]  # points now at 16 9 4 1 0: 1-NNs are 1,2,3,4,3 -> points 0, 4 keep theirs
    assert rd.knn_preservation(line, moved, k=1) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="k must be"):
        rd.knn_preservation(x, x, k=len(x))


def test_trustworthiness_known_answers() -> None:
    x, _ = blobs()
    assert rd.trustworthiness(x, x, k=5) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    assert rd.trustworthiness(x, rng.normal(size=(len(x), 2)), k=5) < 0.7
    # by hand (Venna & Kaski): points at 0 1 4 9 16, mapped to 16 9 4 1 0, k = 1. Points 1, 2, 3
    # gain a map neighbour that was their 2nd, 3rd, 2nd nearest: penalty (1 + 2 + 1) = 4,
    # scaled by 2 / (n k (2n - 3k - 1)) = 2 / 30
    line = np.arange(5.0)[:, None] ** 2
    assert rd.trustworthiness(line, line[::-1], k=1) == pytest.approx(1 - 4 * 2 / 30)


def test_label_separation() -> None:
    x, labels = blobs()
    sep = rd.label_separation(x[:, :2], labels)
    assert sep["probe_acc"] == 1.0 and sep["silhouette"] > 0.9
    noise = np.random.default_rng(2).normal(size=(len(x), 2))
    assert abs(rd.label_separation(noise, labels)["silhouette"]) < 0.1


@pytest.mark.parametrize("method", ["pca", "random_projection", "tsne", "mds", "ae", "vae"])
def test_reducers_give_2d_maps_that_keep_blobs_apart(method: str) -> None:
    x, labels = blobs()
    kwargs = {"perplexity": 10.0} if method == "tsne" else {}
    if method in ("ae", "vae"):
        kwargs = {"epochs": 40, "batch_size": 20}
    out = rd.reduce(x, method, random_state=0, **kwargs)
    assert out.embedding.shape == (len(x), 2) and out.seconds >= 0
    assert rd.label_separation(out.embedding, labels)["probe_acc"] == 1.0
    again = rd.reduce(x, method, random_state=0, **kwargs)
    np.testing.assert_allclose(out.embedding, again.embedding, rtol=1e-5, atol=1e-5)


def test_pca_matches_svd() -> None:
    x, _ = blobs(d=5)
    y = rd.reduce(x, "pca").embedding
    centred = x - x.mean(0)
    _, s, _ = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.linalg.norm(y, axis=0), s[:2], rtol=1e-4)  # column norms


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="Unknown method 'lle'"):
        rd.reduce(np.ones((4, 3)), "lle")


def test_vae_kl_known_answer() -> None:
    torch.manual_seed(0)
    model = rd.AutoEncoder(4, 2, 8, variational=True).eval()  # eval: z = mu, no sampling
    x = torch.randn(3, 4)
    mu, logvar = model.encoder(x).chunk(2, dim=-1)
    expected = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(-1).mean()
    loss, rec, kl = rd.autoencoder_loss(model, x, beta=0.5)
    assert kl.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() == pytest.approx(rec.item() + 0.5 * kl.item(), rel=1e-6)
    # KL(N(0, 1) || N(0, 1)) = 0 and KL(N(1, 1) || N(0, 1)) = 1/2 per dimension
    with torch.no_grad():
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.copy_(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert rd.autoencoder_loss(model, x)[2].item() == pytest.approx(1.0)
    plain = rd.AutoEncoder(4, 2, 8)
    assert rd.autoencoder_loss(plain, x)[2].item() == 0.0


@pytest.mark.parametrize("variational", [False, True])
def test_train_step_lowers_the_loss(variational: bool) -> None:
    torch.manual_seed(0)
    model = rd.AutoEncoder(6, 2, 16, variational=variational)
    batch = torch.randn(32, 6)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.eval()
    before = rd.autoencoder_loss(model, batch)[1].item()
    losses = [rd.train_step(model, batch, optimizer) for _ in range(20)]
    model.eval()
    after = rd.autoencoder_loss(model, batch)[1].item()
    assert after < before and losses[-1] < losses[0]


def test_autoencoder_decodes_to_input_units() -> None:
    x, _ = blobs()
    x = x * 10 + 3
    model, losses = rd.train_autoencoder(x, epochs=60, batch_size=20, random_state=0)
    assert losses[-1] < losses[0]
    recon = model.decode(model.embed(x))
    assert recon.shape == x.shape
    assert np.abs(recon - x).mean() < 0.25 * np.abs(x - x.mean(0)).mean()


def test_stratified_sample() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    idx = rd.stratified_sample(labels, 10, random_state=0)
    assert len(idx) == 10 and np.all(np.diff(idx) > 0)
    assert (labels[idx] == 1).sum() == 2
    np.testing.assert_array_equal(rd.stratified_sample(labels, 200), np.arange(100))


def test_compare_reductions_scores_every_map_and_the_original() -> None:
    x, labels = blobs(80, d=6)
    sample = rd.stratified_sample(labels, 40, random_state=0)
    plan = {"PCA": ("pca", "all"), "random projection": ("random_projection", "sample")}
    maps, table = rd.compare_reductions(x, labels, sample, plan, random_state=0, progress=False)
    assert list(table.index) == ["PCA", "random projection", rd.FULL]
    assert maps["PCA"].embedding.shape == (80, 2)
    assert maps["random projection"].embedding.shape == (40, 2)
    assert table.loc["PCA", "fitted on"] == 80 and table.loc["random projection", "fitted on"] == 40
    assert table.loc[rd.FULL, ["trustworthiness", "knn_preservation"]].tolist() == [1.0, 1.0]
    assert table.loc["PCA", "probe_acc"] == 1.0  # the blobs stay apart in PCA's map


def test_comparison_claims_known_answers() -> None:
    import pandas as pd

    table = pd.DataFrame(
        {"trustworthiness": [0.66, 0.55, 0.82, 0.73, 1.0],
         "knn_preservation": [0.02, 0.01, 0.25, 0.12, 1.0],
         "probe_acc": [0.62, 0.54, 0.60, 0.56, 0.72]},
        index=["PCA", "random projection", "t-SNE", "UMAP", rd.FULL],
    )  # fmt: skip
    claims = rd.comparison_claims(table)
    assert claims == pytest.approx(
        {"trust_gap_random_projection": 0.11, "knn_gap_tsne_umap_over_pca": 0.10,
         "probe_gap_full": 0.10, "probe_acc_pca": 0.62}
    )  # fmt: skip
