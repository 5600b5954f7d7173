"""MinHash / exact-dedup kernels (no Ray)."""
import json
import random

import numpy as np
import pyarrow as pa
import pytest

from xcurate.text.words import split_words
from xcurate.dedup.digests import normalize_exact, text_digests
from xcurate.dedup.signatures import (MinHashSpec, band_keys, jaccard, minhash_from_hashes, normalize_series,
                                      shingle_hashes, shingle_strings, signatures, tokenize_series, unique_shingle_sets)
from xcurate.stages.exact_dedup import ExactDedupParams
from xcurate.stages.minhash_dedup import MinHashDedupParams
from xcurate.dedup.select import choose_keepers
from tests.dedup_helpers import edit_words, random_doc

MIXED = ["Hello, World! 123 times.", "Ça coûte 3,50 € — déjà vu?", "東京は日本の首都です。大阪も大きい。",
         "ภาษาไทยไม่มีการเว้นวรรค ระหว่างคำ", "Привет, мир! Это тест.", "", "one two", "नमस्ते दुनिया, यह परीक्षण है।"]


def test_tokens_equal_split_words_on_real_text(shared_data):
    texts = [json.loads(l)["text"] for l in open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    texts = texts[::5] + MIXED
    norm = MinHashSpec().norm
    normalized = normalize_series(texts, norm).to_list()
    assert tokenize_series(texts, norm).to_list() == [split_words(t) for t in normalized]


def test_normalisation_like_datatrove():
    """datatrove's, except that marks outside alphabets stay (kana voicing, abugida vowel signs:
    xcurate.text.normalize): without them ours is datatrove's."""
    import regex
    from datatrove.utils.text import simplify_text
    for text in MIXED[:5]:
        ours = " ".join(tokenize_series([text], MinHashSpec().norm).to_list()[0])
        assert regex.sub(r"\p{Mn}", "", ours) == " ".join(split_words(simplify_text(text)))


@pytest.mark.parametrize("num_perm,seed", [(112, 1), (64, 42)])
def test_datasketch_mode_equals_datasketch(num_perm, seed):
    import datasketch
    rng = random.Random(seed)
    texts = [random_doc(rng, 60) for _ in range(5)] + MIXED
    spec = MinHashSpec(num_perm=num_perm, bands=8, rows=8, seed=seed, hash_mode="datasketch")
    sig, has = signatures(texts, spec)
    shingles = shingle_strings(tokenize_series(texts, spec.norm).to_list(), spec.ngram_size)
    for i, sh in enumerate(shingles):
        assert has[i] == bool(sh)
        if sh:
            m = datasketch.MinHash(num_perm=num_perm, seed=seed)
            m.update_batch(sh)
            assert np.array_equal(m.digest(), sig[i])


def test_fast_mode_estimates_jaccard():
    rng = random.Random(3)
    spec = MinHashSpec(num_perm=256, bands=32, rows=8)
    errors = []
    for rate in (0.02, 0.05, 0.1, 0.2, 0.4):
        for _ in range(6):
            a = random_doc(rng, 200)
            b = edit_words(rng, a, rate)
            sig, _ = signatures([a, b], spec)
            exact = jaccard(*unique_shingle_sets([a, b], spec))
            errors.append(abs((sig[0] == sig[1]).mean() - exact))
    assert np.mean(errors) < 0.03 and max(errors) < 0.12


def test_fast_mode_is_unbiased_and_lsh_recall_follows_theory():
    """Near copies around the 14x8 threshold: the fast hash estimates Jaccard without bias, with the
    binomial spread of independent permutations, and the share of pairs sharing a band is the LSH
    curve 1-(1-J^r)^b. A near copy LSH misses is then chance, as for datatrove (issue #14);
    truncated hash values bias the estimate, correlated permutations widen its spread."""
    rng = random.Random(14)
    spec = MinHashSpec(num_perm=112, bands=14, rows=8)
    pairs = [(a, edit_words(rng, a, rng.choice((0.03, 0.04)))) for a in (random_doc(rng, 200) for _ in range(600))]
    texts = [t for pair in pairs for t in pair]
    sig, _ = signatures(texts, spec)
    sets = unique_shingle_sets(texts, spec)
    exact = np.array([jaccard(sets[2 * i], sets[2 * i + 1]) for i in range(len(pairs))])
    error = (sig[0::2] == sig[1::2]).mean(axis=1) - exact
    assert abs(error.mean()) < 0.006  # ~3.5 standard errors
    assert 0.8 < error.var() / np.mean(exact * (1 - exact) / spec.num_perm) < 1.25
    found = (sig[0::2] == sig[1::2]).reshape(len(pairs), spec.bands, spec.rows).all(axis=2).any(axis=1)
    p_found = 1 - (1 - exact ** spec.rows) ** spec.bands
    assert 0.2 < p_found.mean() < 0.8  # the pairs straddle the threshold, where recall is most sensitive
    assert abs(found.sum() - p_found.sum()) < 4 * np.sqrt((p_found * (1 - p_found)).sum())


def test_fast_signature_depends_on_document_only():
    rng = random.Random(5)
    docs = [random_doc(rng, 50) for _ in range(6)] + ["short doc", ""]
    spec = MinHashSpec()
    together, has = signatures(docs, spec)
    for i, d in enumerate(docs):
        alone, has_alone = signatures([d], spec)
        assert has_alone[0] == has[i]
        assert np.array_equal(alone[0], together[i])
    assert has[-2] and not has[-1]  # fewer tokens than n -> one shingle; empty -> none


def test_chunked_signatures_equal_unchunked():
    rng = random.Random(7)
    docs = [random_doc(rng, 300) for _ in range(4)]
    spec = MinHashSpec()
    h, doc, n = shingle_hashes(docs, spec)
    full, _ = minhash_from_hashes(h, doc, n, spec)
    chunked, _ = minhash_from_hashes(h, doc, n, spec, chunk=97)
    assert np.array_equal(full, chunked)


def test_ngram_order_matters_and_shingles_stay_in_doc():
    spec = MinHashSpec(ngram_size=2, num_perm=32, bands=4, rows=8)
    s1, _ = signatures(["alpha beta gamma"], spec)
    s2, _ = signatures(["gamma beta alpha"], spec)
    assert not np.array_equal(s1, s2)
    # the last shingle of doc 0 must not extend into doc 1
    pair, _ = signatures(["alpha beta", "gamma delta"], spec)
    solo, _ = signatures(["alpha beta"], spec)
    assert np.array_equal(pair[0], solo[0])


def test_band_keys():
    sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [5, 5, 3, 4]], dtype=np.uint32)
    keys = band_keys(sig, bands=2, rows=2)
    assert keys[0, 0] == keys[1, 0] and keys[0, 0] != keys[2, 0]
    assert keys[0, 1] == keys[2, 1] and keys[0, 1] != keys[1, 1]
    same = np.array([[7, 7, 7, 7]], dtype=np.uint32)
    k = band_keys(same, 2, 2)
    assert k[0, 0] != k[0, 1]  # band index is part of the key
    salted = band_keys(sig, 2, 2, salt=np.array([1, 2, 1], dtype=np.uint64))
    assert salted[0, 0] != salted[1, 0]


def test_threshold_picks_datasketch_optimal_bands_rows():
    from datasketch import MinHashLSH
    p = MinHashDedupParams(threshold=0.8, bands=None, rows=None, num_perm=128)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    assert (p.bands, p.rows) == (lsh.b, lsh.r)
    with pytest.raises(ValueError):
        MinHashDedupParams(bands=20, rows=8, num_perm=128)
    with pytest.raises(ValueError):
        MinHashDedupParams(threshold=0.8)


def test_exact_normalisation_options():
    texts = ["Hello,  World 42!", "hello world 42", "HELLO, WORLD 17!"]
    def groups(**kw):
        norm = normalize_exact(texts, ExactDedupParams(**kw)).to_list()
        hi, lo, _ = text_digests(norm)
        return len(set(zip(hi.tolist(), lo.tolist())))
    assert groups() == 3
    assert groups(strip_punctuation=True) == 2
    assert groups(strip_punctuation=True, normalize_digits=True) == 1
    assert groups(lowercase=False, strip_punctuation=True, normalize_digits=True) == 3
    _, _, non_empty = text_digests(normalize_exact(["  ", "x"], ExactDedupParams()).to_list())
    assert non_empty.tolist() == [False, True]


@pytest.mark.parametrize("rule,winner", [("smallest_id", "a"), ("longest", "c"), ("highest_quality", "b")])
def test_keep_rules(rule, winner):
    table = pa.table({"group": [1, 1, 1, 2], "doc": [10, 11, 12, 13], "id": ["c", "a", "b", "z"],
                      "length": [100, 5, 7, 1], "quality": [float("nan"), 0.1, 0.9, None]})
    out = choose_keepers(table, ["group"], rule).to_pylist()
    assert len(out) == 3  # singleton group 2 is not a decision
    kept = [r for r in out if r["keep"]]
    assert len(kept) == 1 and {r["kept_id"] for r in out} == {winner}
    assert all(r["group_size"] == 3 for r in out)


class LocalPhases:
    """Runs phase tasks in-process (the components algorithm without Ray)."""

    def __init__(self, root):
        from xcurate.dedup.store import Phases
        self._p = Phases(str(root), 1)
        self.log = {}

    def path(self, *parts):
        return self._p.path(*parts)

    def run(self, phase, fn, tasks):
        return {name: fn(*args) for name, args in tasks.items()}


@pytest.mark.parametrize("seed", [0, 1])
def test_large_small_star_components_match_scipy(tmp_path, seed):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from xcurate.dedup.components import run_components, write_edges
    from xcurate.dedup.store import make_doc, read_part

    rng = np.random.default_rng(seed)
    n = 400
    nodes = np.concatenate([make_doc(u, np.arange(100)) for u in range(4)])
    rng.shuffle(nodes)
    chain = np.arange(150)  # a long path: many rounds for naive label propagation
    u = np.concatenate([chain[:-1], rng.integers(150, n, 120)])
    v = np.concatenate([chain[1:], rng.integers(150, n, 120)])
    keep = u != v
    u, v = nodes[u[keep]], nodes[v[keep]]
    write_edges(u, v, str(tmp_path / "cc0"), 5, "input")
    info = run_components(LocalPhases(tmp_path), str(tmp_path / "cc0"), str(tmp_path / "labels"), 5,
                          num_edges=len(u), single_worker_max_edges=0)
    assert info["mode"] == "distributed"
    labels = {}
    for unit in range(4):
        t = read_part(str(tmp_path / "labels"), unit)
        labels.update(zip(t["node"].to_pylist(), t["root"].to_pylist()))
    index = {x: i for i, x in enumerate(np.unique(np.concatenate([u, v])))}
    graph = coo_matrix((np.ones(len(u)), ([index[x] for x in u], [index[x] for x in v])), shape=(len(index),) * 2)
    _, comp = connected_components(graph, directed=False)
    expected = {}
    for x, i in index.items():
        expected.setdefault(comp[i], []).append(x)
    assert set(labels) == set(index)
    for members in expected.values():
        assert {labels[m] for m in members} == {min(members)}
