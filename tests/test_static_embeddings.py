"""course_utils.embeddings.static: word2vec, input embeddings and contextual vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import tiny_bert_config
from transformers import AutoTokenizer, BertModel

from course_utils.core.models import bundled_model_path
from course_utils.embeddings import static as se


@pytest.fixture(scope="module")
def tiny_bert():
    """The bundled tokenizer with a tiny random BERT (2 layers, 32-d): fast, no weights."""
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    torch.manual_seed(0)
    return tokenizer, BertModel(tiny_bert_config(len(tokenizer))).eval()


def test_tokenize_and_find_word() -> None:
    assert se.tokenize_words("It's a COLD-hearted film.") == [
        "it's",
        "a",
        "cold",
        "hearted",
        "film",
    ]
    assert se.find_word("The batter's bat.", "bat") == (13, 16)
    assert se.find_word("Bat first!", "bat") == (0, 3)
    with pytest.raises(ValueError, match="whole word"):
        se.find_word("Two bats.", "bat")


def test_stable_hash_is_fixed() -> None:
    # md5("a") = 0cc175b9...: its first 4 bytes read little-endian, whatever PYTHONHASHSEED
    assert se.stable_hash("a") == 0xB975C10C
    assert se.stable_hash("bank42") != se.stable_hash("bank43")


def test_word2vec_is_deterministic_and_learns_cooccurrence() -> None:
    rng = np.random.default_rng(0)
    fruit = ["apple", "banana", "cherry", "grape", "lemon", "mango"]
    cars = ["car", "engine", "wheel", "brake", "tyre", "gear"]
    sentences = [" ".join(rng.choice(words, 8)) for _ in range(200) for words in (fruit, cars)]
    a = se.train_word2vec(sentences, vector_size=16, min_count=1, epochs=10)
    b = se.train_word2vec(sentences, vector_size=16, min_count=1, epochs=10)
    np.testing.assert_array_equal(a["apple"], b["apple"])
    assert a["apple"].shape == (16,)
    # words that share sentences end up closest: apple's 5 neighbours are the other fruits
    assert {w for w, _ in a.most_similar("apple", topn=5)} == set(fruit) - {"apple"}
    with pytest.raises(ValueError, match="at least one sentence"):
        se.train_word2vec(["!!!"])


def test_input_embedding_is_table_row(tiny_bert) -> None:
    tokenizer, model = tiny_bert
    (token_id,) = se.word_pieces("bank", tokenizer)
    table = model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_allclose(se.input_embedding("bank", tokenizer, model), table[token_id])
    pieces = se.word_pieces("unbankable", tokenizer)
    assert len(pieces) > 1
    np.testing.assert_allclose(
        se.input_embedding("unbankable", tokenizer, model), table[pieces].mean(0), rtol=1e-6
    )


def test_contextual_vectors_pick_the_words_tokens(tiny_bert) -> None:
    tokenizer, model = tiny_bert
    sentences = ["The batter lost his bat.", "A bat flew by."]
    vecs = se.contextual_vectors(sentences, "bat", tokenizer, model)
    assert vecs.shape == (2, 32)
    enc = tokenizer(sentences[0], return_tensors="pt")
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state[0]
    np.testing.assert_allclose(vecs[0], hidden[tokens.index("bat")].numpy(), rtol=1e-5, atol=1e-6)
    layer0 = se.contextual_vectors(sentences, "bat", tokenizer, model, layer=0)
    assert not np.allclose(layer0[0], vecs[0])
    with pytest.raises(TypeError):
        se.contextual_vectors("A bat.", "bat", tokenizer, model)


def test_cosine_and_sense_similarity_known_answers() -> None:
    vecs = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    sim = se.cosine_matrix(vecs)
    np.testing.assert_allclose(sim, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
    assert se.sense_similarity(sim, ["a", "a", "b", "b"]) == pytest.approx((1.0, 0.0))
    assert se.sense_similarity(np.ones((4, 4)), ["a", "a", "b", "b"]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="zero vector"):
        se.cosine_matrix(np.zeros((2, 2)))


def test_shipped_polysemy_sentences() -> None:
    rows = se.load_polysemy_sentences()
    words = {r["word"] for r in rows}
    assert words == {"bank", "bat", "cold", "light"}
    for word in words:
        senses = [r["sense"] for r in rows if r["word"] == word]
        assert len(set(senses)) == 2 and min(senses.count(s) for s in set(senses)) >= 5
