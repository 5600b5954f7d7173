"""Turning inputs into instruction examples: template pools and example rows.

* Translation tasks (from bitext): one example per pair and direction, with an instruction
  from a pool of paraphrased templates (``configs/templates/translation_<lang>.yaml``). The
  template is chosen deterministically from the seed and the example key and recorded in
  ``template_id``; a share of examples (``target_language_template_rate``) uses a template in
  the target language where the pool has one that names both languages.
* Translated general tasks: one row per record × target language × variant, carrying the
  source texts still to be translated (``_src_*`` columns) for the MT stage:

  - ``all_target``: instruction, input and output translated;
  - ``en_instruction_target_response``: instruction and input kept in the source language
    with a response-language directive ("Answer in German."), output translated;
  - ``target_instruction_target_response``: instruction and output translated, input kept
    verbatim (useful when inputs are code or data). For chat records it equals
    ``all_target`` and is not produced twice.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import yaml

from xcurate import schema
from xcurate.mt.languages import Language, LanguageTable
from xcurate.resources import data_path

DEFAULT_TEMPLATES_DIR = str(data_path("templates"))
VARIANTS = ("all_target", "en_instruction_target_response", "target_instruction_target_response")
_PLACEHOLDER = re.compile(r"\{(src|tgt|text)\}")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    id: str
    text: str
    language: str

    @property
    def embeds_text(self) -> bool:
        return "{text}" in self.text

    def render(self, src_name: str, tgt_name: str, text: str = "") -> str:
        values = {"src": src_name, "tgt": tgt_name, "text": text}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)  # one pass: braces in text stay


@dataclass
class TemplatePool:
    language: str
    names: Dict[str, str]
    templates: List[Template]
    directives: List[Template]


class TemplateLibrary:
    """All template pools of a directory, keyed by the language they are written in."""

    def __init__(self, pools: Dict[str, TemplatePool], table: LanguageTable):
        if "en" not in pools or not pools["en"].templates:
            raise TemplateError("the template directory needs translation_en.yaml with at least one template")
        self.pools, self.table = pools, table

    @classmethod
    def load(cls, directory: Optional[str], table: LanguageTable) -> "TemplateLibrary":
        directory = directory or DEFAULT_TEMPLATES_DIR
        files = sorted(glob.glob(os.path.join(directory, "translation_*.yaml")))
        if not files:
            raise TemplateError(f"{directory}: no translation_<lang>.yaml template files")
        pools, seen = {}, set()
        for path in files:
            pool = _load_pool(path, table)
            for t in pool.templates + pool.directives:
                if t.id in seen:
                    raise TemplateError(f"{path}: template id {t.id!r} used twice")
                seen.add(t.id)
            pools[pool.language] = pool
        return cls(pools, table)

    def all_templates(self) -> List[Template]:
        return [t for p in self.pools.values() for t in p.templates]

    def choose(self, seed: int, key: str, src: Language, tgt: Language, target_language_rate: float = 0.0,
               directive: bool = False):
        """(template, src_name, tgt_name): same seed and key → same choice, on any machine."""
        h = _hash64(f"{seed}:{key}")
        pool = self.pools["en"]
        native = self.pools.get(tgt.code)
        if native is not None and tgt.code != "en" and src.code in native.names and tgt.code in native.names \
                and (native.directives if directive else native.templates) \
                and (h & 0xFFFF) / 0x10000 < target_language_rate:
            pool = native
        items = pool.directives if directive else pool.templates
        if not items:
            raise TemplateError(f"template pool {pool.language!r} has no "
                                f"{'response_language_directives' if directive else 'templates'}")
        tpl = items[(h >> 16) % len(items)]
        names = pool.names if pool.language != "en" else {}
        return tpl, names.get(src.code, src.name), names.get(tgt.code, tgt.name)


def _load_pool(path: str, table: LanguageTable) -> TemplatePool:
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    lang = table.resolve(str(raw.get("language", "")), what=f"templates file {path}").code

    def items(key: str) -> List[Template]:
        out = []
        for i, t in enumerate(raw.get(key) or []):
            if not isinstance(t, dict) or not isinstance(t.get("id"), str) or not isinstance(t.get("text"), str):
                raise TemplateError(f"{path}: {key}[{i}]: expected {{id: ..., text: ...}}")
            unknown = set(re.findall(r"\{(\w*)\}", t["text"])) - {"src", "tgt", "text"}
            if unknown:
                raise TemplateError(f"{path}: {key}[{i}] ({t['id']}): unknown placeholder(s) {sorted(unknown)}; "
                                    "use {src}, {tgt}, {text}")
            out.append(Template(t["id"], t["text"], lang))
        return out

    names = {table.resolve(k).code: v for k, v in (raw.get("names") or {}).items()}
    return TemplatePool(lang, names, items("templates"), items("response_language_directives"))


def _hash64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")


def example_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()


def chat_messages(instruction: str, input_: str, output: str) -> List[dict]:
    user = instruction if not input_ else f"{instruction}\n\n{input_}"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]


# ---------------------------------------------------------------------------------------
# example rows (plain dicts; the orchestrator turns lists of them into Arrow tables)

def translation_examples(pair: dict, directions: str, library: TemplateLibrary, seed: int,
                         target_language_rate: float) -> List[dict]:
    """Examples for one bitext pair (``pair`` langs already resolved to Language objects; ``src_code`` /
    ``tgt_code``, when given, are the corpus codes as written, keeping a script such as ``srp_Latn``)."""
    src, tgt = pair["src_lang"], pair["tgt_lang"]
    corpus = {src.code: pair.get("src_code") or src.corpus_code(), tgt.code: pair.get("tgt_code") or tgt.corpus_code()}
    plans = [(src, tgt, pair["src_text"], pair["tgt_text"])]
    if directions == "both":
        plans.append((tgt, src, pair["tgt_text"], pair["src_text"]))
    elif directions == "reverse":
        plans = [(tgt, src, pair["tgt_text"], pair["src_text"])]
    out = []
    for s, t, s_text, t_text in plans:
        key = f"translation:{pair['id']}:{s.code}:{t.code}"
        tpl, s_name, t_name = library.choose(seed, key, s, t, target_language_rate)
        if tpl.embeds_text:
            instruction, input_ = tpl.render(s_name, t_name, s_text), ""
        else:
            instruction, input_ = tpl.render(s_name, t_name), s_text
        out.append(base_row(key, pair, corpus[s.code], corpus[t.code], "translation", "bitext") | {
            "instruction": instruction, "input": input_, "output": t_text, "template_id": tpl.id,
            "backend": "bitext", "_qc_source": s_text, "_qc_target": t_text})
    return out


def instruction_examples(rec: dict, src: Language, targets: Sequence[Language], variants: Sequence[str],
                         library: TemplateLibrary, seed: int) -> List[dict]:
    out = []
    for tgt in targets:
        for variant in variants:
            if rec["messages"] is not None and variant == "target_instruction_target_response":
                continue
            key = f"instruction:{rec['id']}:{src.code}:{tgt.code}:{variant}"
            row = base_row(key, rec, src.corpus_code(), tgt.corpus_code(), "translated_instruction", variant)
            row.update(_variant_fields(rec, src, tgt, variant, library, seed, key))
            out.append(row)
    return out


def _variant_fields(rec, src, tgt, variant, library, seed, key) -> dict:
    directive_id, directive = None, ""
    if variant == "en_instruction_target_response":
        tpl, _, t_name = library.choose(seed, key, src, tgt, 0.0, directive=True)
        directive_id, directive = tpl.id, tpl.render(src.name, t_name)
    if rec["messages"] is not None:
        msgs = []
        for i, m in enumerate(rec["messages"]):
            translate = m["role"] == "assistant" or variant == "all_target"
            content = m["content"]
            if directive and m["role"] == "user" and not any(x["role"] == "user" for x in rec["messages"][:i]):
                content = f"{content}\n\n{directive}"
            msgs.append({"role": m["role"], "content": content, "translate": translate})
        return {"instruction": None, "input": None, "output": None, "template_id": directive_id,
                "_src_messages": json.dumps(msgs, ensure_ascii=False)}
    translate_input = variant == "all_target"
    instruction = rec["instruction"] if variant != "en_instruction_target_response" else \
        f"{rec['instruction']}\n\n{directive}"
    return {
        "instruction": instruction if variant == "en_instruction_target_response" else None,
        "input": None if translate_input else rec["input"],
        "output": None, "template_id": directive_id,
        "_src_instruction": rec["instruction"] if variant != "en_instruction_target_response" else None,
        "_src_input": rec["input"] if translate_input and rec["input"] else None,
        "_src_output": rec["output"],
    }


def base_row(key: str, rec: dict, src: str, tgt: str, task_type: str, variant: str) -> dict:
    """An example row; ``src``/``tgt`` are corpus codes (``deu_Latn``), as ``xcurate run`` writes them."""
    return {"id": example_id(key), "source_id": rec["id"], "source": rec["source"], "src_lang": src,
            "tgt_lang": tgt, "task_type": task_type, "variant": variant, "instruction": None, "input": None,
            "output": None, "template_id": None, "backend": None, "model": None,
            "_src_instruction": None, "_src_input": None, "_src_output": None, "_src_messages": None,
            "_qc_source": None, "_qc_target": None, schema.DROP_STAGE: None, schema.DROP_REASON: None}
