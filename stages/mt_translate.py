"""Stages of ``xcurate synth``: ``synth_unpack`` and ``mt_translate``.

``xcurate synth`` expands its inputs into example rows (``pipeline/workflows/synth.py``) whose fields
travel in the runner's ``metadata`` column; these stages turn them into the output schema
and translate what needs translating, so generation, MT, QC, dedup and decontamination all
run in the same runner with the same accounting.

* ``synth_unpack``: fields from ``metadata`` → columns (``instruction``, ``input``, ``output``,
  ``messages``, ``src_lang``, ``tgt_lang``, ``language`` (the output partition, = ``tgt_lang``);
  every language column holds the code ``xcurate run`` writes, LID's ``iso639_3_Script``
  (``de`` → ``deu_Latn``, ``zh`` → ``cmn_Hani``; ``LanguageTable.corpus_code``),
  ``task_type``, ``variant``, ``template_id``, ``backend``, ``model``,
  ``source_id``); drops input records that could not become examples (reason as found by
  the reader: ``empty_instruction``, ``empty_source``, ``unsupported_language`` ...).
* ``mt_translate``: translates the pending fields with the configured backend (Ray actor
  pool; GPUs declared through the stage resources). A chunk that fails (HTTP error after
  retries, timeout, malformed response) drops the example with the failure reason and keeps
  the full failure record in ``mt_error``.
"""
from __future__ import annotations

import json
from typing import Annotated, List, Optional, Union

import pyarrow as pa
from pydantic import Field

from xcurate.engine.registry import register
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns

MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
FIELDS = ("instruction", "input", "output")
# Internal columns (dropped from the output by the runner, like every _xc_ column).
SRC_COLS = {f: f"_xc_src_{f}" for f in FIELDS}
SRC_MESSAGES = "_xc_src_messages"
QC_SOURCE, QC_TARGET = "_xc_qc_source", "_xc_qc_target"
STRING_COLS = ("source_id", "src_lang", "tgt_lang", "task_type", "variant", "template_id", "backend", "model")


def render_text(instruction: str, input_: str, output: str) -> str:
    """The ``text`` column (what dedup and decontamination read): prompt and response."""
    return "\n\n".join(x for x in (instruction, input_, output) if x)


def chat_from_fields(instruction: str, input_: str, output: str) -> list:
    user = instruction if not input_ else f"{instruction}\n\n{input_}"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]


class SynthUnpackParams(StageParams):
    languages_table: Optional[str] = Field(None, description="language code table (TSV); default "
                                           "configs/languages/iso639_names.tsv")


@register
class SynthUnpackStage(Stage):
    name = "synth_unpack"
    reads = ("metadata",)
    writes = ("instruction", "input", "output", "messages", "language", "text", "metadata", "source", QC_SOURCE,
              QC_TARGET) + STRING_COLS
    Params = SynthUnpackParams

    def setup(self) -> None:
        from xcurate.mt.languages import LanguageTable
        self.languages = LanguageTable.load(self.params.languages_table)

    def process(self, table: pa.Table) -> StageOutput:
        metas = [json.loads(m) if m else {} for m in table.column("metadata").to_pylist()]
        cols = {c: [m.get(c) for m in metas] for c in STRING_COLS + FIELDS}
        reasons = [m.get("reject") for m in metas]
        messages, texts = [], []
        for m in metas:
            pending = any(m.get(f"_src_{f}") is not None for f in FIELDS) or m.get("_src_messages") is not None
            if pending or m.get("reject"):
                messages.append(None)
                texts.append(m.get("_qc_source") or "")
            else:
                ins, inp, out = (m.get(f) or "" for f in FIELDS)
                messages.append(chat_from_fields(ins, inp, out))
                texts.append(render_text(ins, inp, out))
        new = {c: pa.array(cols[c], pa.string()) for c in STRING_COLS + FIELDS}
        new.update({
            "messages": pa.array(messages, MESSAGES_TYPE),
            "language": pa.array([self.languages.corpus_code(c) for c in cols["tgt_lang"]], pa.string()),
            "text": pa.array(texts, pa.large_string()),
            "source": pa.array([m.get("source") for m in metas], pa.string()),
            "metadata": pa.array([json.dumps({"line": m.get("line")}) for m in metas], pa.string()),
            SRC_MESSAGES: pa.array([m.get("_src_messages") for m in metas], pa.string()),
            QC_SOURCE: pa.array([m.get("_qc_source") for m in metas], pa.string()),
            QC_TARGET: pa.array([m.get("_qc_target") for m in metas], pa.string()),
            **{SRC_COLS[f]: pa.array([m.get(f"_src_{f}") for m in metas], pa.string()) for f in FIELDS},
        })
        return StageOutput(with_columns(table, new), reasons_array(reasons))


# ------------------------------------------------------------------------------------
# translation

def _backend_config_types():
    from xcurate.mt.hf_backend import HFBackendConfig
    from xcurate.mt.http_backend import HttpBackendConfig
    return Annotated[Union[HFBackendConfig, HttpBackendConfig], Field(discriminator="type")]


class MTTranslateParams(StageParams):
    backend: _backend_config_types() = Field(..., description="MT backend: {type: transformers, model: ...} (actor pool) "
                                           "or {type: openai, ...} (OpenAI-compatible endpoint)")
    languages_table: Optional[str] = Field(None, description="language code table (TSV); default configs/languages/iso639_names.tsv")


def make_backend(cfg):
    if cfg.type == "transformers":
        from xcurate.mt.hf_backend import HFSeq2SeqBackend
        return HFSeq2SeqBackend(cfg)
    from xcurate.mt.http_backend import OpenAIBackend
    return OpenAIBackend(cfg)


@register
class MTTranslateStage(Stage):
    name = "mt_translate"
    reads = ("instruction", "input", "output", "src_lang", "tgt_lang")
    writes = ("instruction", "input", "output", "messages", "text", "backend", "model", "mt_error", QC_SOURCE, QC_TARGET)
    uses_model = True
    Params = MTTranslateParams
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        from xcurate.mt.base import Translator
        from xcurate.mt.languages import LanguageTable
        self.table = LanguageTable.load(self.params.languages_table)
        self.backend = make_backend(self.params.backend)
        self.backend.setup()
        self.translator = Translator(self.backend, self.table)

    def process(self, table: pa.Table) -> StageOutput:
        from xcurate.mt.base import MTFailure, TranslationRequest

        rows = table.select([c for c in table.column_names if c in (
            *FIELDS, *SRC_COLS.values(), SRC_MESSAGES, "src_lang", "tgt_lang", "messages", "text",
            "backend", "model", QC_SOURCE, QC_TARGET)]).to_pylist()
        requests, where = [], []  # where[i] = (row, field or message index)
        for r, row in enumerate(rows):
            for f in FIELDS:
                if row.get(SRC_COLS[f]) is not None:
                    requests.append(TranslationRequest(row[SRC_COLS[f]], row["src_lang"], row["tgt_lang"]))
                    where.append((r, f))
            if row.get(SRC_MESSAGES):
                for k, msg in enumerate(json.loads(row[SRC_MESSAGES])):
                    if msg["translate"]:
                        requests.append(TranslationRequest(msg["content"], row["src_lang"], row["tgt_lang"]))
                        where.append((r, k))
        results = self.translator.translate(requests) if requests else []
        per_row: dict = {}
        for (r, key), req, res in zip(where, requests, results):
            per_row.setdefault(r, []).append((key, req.text, res))
        reasons: List[Optional[str]] = [None] * len(rows)
        errors: List[Optional[str]] = [None] * len(rows)
        for r, items in per_row.items():
            failure = next((res for _, _, res in items if isinstance(res, MTFailure)), None)
            if failure is not None:
                reasons[r], errors[r] = f"mt_{failure.reason}", str(failure)
                continue
            self._fill(rows[r], items)
        new = {f: pa.array([row.get(f) for row in rows], pa.string()) for f in FIELDS}
        new.update({
            "messages": pa.array([row.get("messages") for row in rows], MESSAGES_TYPE),
            "text": pa.array([row.get("text") for row in rows], pa.large_string()),
            "backend": pa.array([row.get("backend") for row in rows], pa.string()),
            "model": pa.array([row.get("model") for row in rows], pa.string()),
            "mt_error": pa.array(errors, pa.string()),
            QC_SOURCE: pa.array([row.get(QC_SOURCE) for row in rows], pa.string()),
            QC_TARGET: pa.array([row.get(QC_TARGET) for row in rows], pa.string()),
        })
        return StageOutput(with_columns(table, new), reasons_array(reasons))

    def _fill(self, row: dict, items: list) -> None:
        row["backend"], row["model"] = self.backend.name, self.backend.model
        sources, targets = [], []
        if row.get(SRC_MESSAGES):
            msgs = json.loads(row[SRC_MESSAGES])
            for key, src_text, translated in items:
                msgs[key]["content"] = translated
                sources.append(src_text)
                targets.append(translated)
            row["messages"] = [{"role": m["role"], "content": m["content"]} for m in msgs]
            users = [m["content"] for m in msgs if m["role"] == "user"]
            answers = [m["content"] for m in msgs if m["role"] == "assistant"]
            row["instruction"], row["input"], row["output"] = users[0], "", answers[-1]
            row["text"] = "\n\n".join(m["content"] for m in msgs)
        else:
            for key, src_text, translated in items:
                row[key] = translated
                sources.append(src_text)
                targets.append(translated)
            ins, inp, out = (row.get(f) or "" for f in FIELDS)
            row["instruction"], row["input"], row["output"] = ins, inp, out
            row["messages"] = chat_from_fields(ins, inp, out)
            row["text"] = render_text(ins, inp, out)
        row[QC_SOURCE], row[QC_TARGET] = "\n\n".join(sources), "\n\n".join(targets)
