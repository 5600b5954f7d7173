"""`xcurate export`: token ids of a finished OUTDIR, read back with Megatron-LM's own reader."""
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from outputs_helpers import LANGS, build_tokenizer, shared_small_run
from xcurate.cli import main
from xcurate.errors import UserError
from xcurate.workflows.export import export, write_megatron_index


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return shared_small_run(tmp_path_factory)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    return str(path), build_tokenizer(path)


def _expected_ids(out, manifest, raw, language):
    texts = [t for s in sorted(manifest["shards"], key=lambda s: s["path"]) if f"language={language}/" in s["path"]
             for t in pq.read_table(out / s["path"], columns=["text"])["text"].to_pylist()]
    return [e.ids for e in raw.encode_batch(texts, add_special_tokens=False)]


def test_megatron_export_reads_back_with_megatron_core(run, tokenizer, tmp_path, capsys):
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    _, out, manifest = run
    path, raw = tokenizer
    assert main(["export", str(out), "--tokenizer", path, "--format", "megatron", "--eod-id", "0",
                 "-o", str(tmp_path / "mg")]) == 0
    printed = capsys.readouterr().out
    for lang in LANGS:
        expected = [ids + [0] for ids in _expected_ids(out, manifest, raw, lang)]
        dataset = IndexedDataset(str(tmp_path / "mg" / f"{lang}_text_document"))
        assert len(dataset) == manifest["languages"][lang]["documents"] == len(expected)
        assert dataset.index.dtype == np.uint16
        assert [dataset[i].tolist() for i in range(len(dataset))] == expected
        assert f"{lang}  " in printed and str(sum(map(len, expected))) in printed
    assert not (tmp_path / "mg" / "_parts").exists()


def test_parquet_tokens_export_and_token_table(run, tokenizer, tmp_path):
    _, out, manifest = run
    path, raw = tokenizer
    info = export(str(out), str(tmp_path / "pt"), path, "parquet-tokens")
    table = pq.read_table(tmp_path / "pt" / "data", partitioning=None)
    assert table.num_rows == manifest["output_documents"] == info["documents"]
    for lang in LANGS:
        part = pq.read_table(tmp_path / "pt" / "data" / f"language={lang}", partitioning=None)
        assert part["input_ids"].to_pylist() == _expected_ids(out, manifest, raw, lang)
        assert info["languages"][lang] == {"documents": part.num_rows, "tokens": sum(part["n_tokens"].to_pylist())}
    # the run's own n_tokens (output.tokenizer, same tokenizer) agrees with the export
    assert pq.read_table(out / "data", partitioning=None)["n_tokens"].to_pylist() == table["n_tokens"].to_pylist()
    assert info["tokenizer"]["kind"] == "hf" and (tmp_path / "pt" / "export.json").exists()


def test_int32_index_for_large_vocabularies(tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    docs = [np.array([70000, 1, 2], np.int32), np.array([], np.int32), np.array([65535, 99999], np.int32)]
    (tmp_path / "big.bin").write_bytes(np.concatenate(docs).tobytes())
    write_megatron_index(str(tmp_path / "big.idx"), np.array([len(d) for d in docs]), np.dtype(np.int32))
    dataset = IndexedDataset(str(tmp_path / "big"))
    assert [dataset[i].tolist() for i in range(3)] == [d.tolist() for d in docs]


def test_export_refuses_an_incomplete_outdir(run, tokenizer, tmp_path, capsys):
    _, out, _ = run
    partial = tmp_path / "partial"
    shutil.copytree(out, partial)
    (partial / "manifest.json").unlink()
    with pytest.raises(UserError, match="incomplete"):
        export(str(partial), str(tmp_path / "x"), tokenizer[0])
    assert main(["export", str(partial), "--tokenizer", tokenizer[0], "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "incomplete" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
