"""Start-up of the quality stage's word splitters: what a fresh worker pays per language it meets.

Each variant runs in a fresh process (as a Ray worker starts) and builds the spaCy tokenizer of
every language datatrove splits with a plain spaCy tokenizer: ``spacy.blank(code)`` (what the
stage did, and what datatrove's ``SpaCyTokenizer`` does) vs the tokenizer built directly from the
language's ``Defaults`` (``xcurate.text.words._blank_spacy_tokenizer``). Times are CPU seconds of
that process (``time.process_time``), so other load on the machine changes them little. The tokens
of both are compared on the UD sentences of each language (they must be identical).

    python -m bench.tokenizer_startup      # -> bench/results/tokenizer_startup.json
"""
from __future__ import annotations

import json
import subprocess
import sys

from bench._common import REPO, write_result

CODES = ("en de fr es it pt nl ru pl cs uk ca ro hu fi sv da nb el tr id lt lv sk sl hr sr bg he fa ar hi "
         "et eu ga is af hy").split()

CHILD = r"""
import json, sys, time
variant, codes = sys.argv[1], sys.argv[2].split(",")
t0 = time.process_time()
import spacy
from xcurate.text import words
imported = time.process_time() - t0
per_lang, tokens = {}, {}
sample = json.loads(sys.stdin.read())
for code in codes:
    t = time.process_time()
    if variant == "spacy_blank":
        nlp = spacy.blank(code)
        tok = nlp.tokenizer
    else:
        tok = words._blank_spacy_tokenizer(code).tokenizer
    per_lang[code] = round(time.process_time() - t, 4)
    tokens[code] = [[t.text for t in tok(s)] for s in sample.get(code, [])]
print(json.dumps({"import_s": round(imported, 3), "per_language_s": per_lang, "tokens": tokens}))
"""


def ud_sample(per_lang: int = 40) -> dict:
    """Up to ``per_lang`` UD sentences per spaCy code (ISO 639-1 of the UD language)."""
    from bench._common import load_ud_docs
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer
    out: dict = {}
    for d in load_ud_docs():
        try:
            tok = load_word_tokenizer(d["lang_script"])
        except (ImportError, ValueError):
            continue
        if isinstance(tok, SpaCyTokenizer) and tok.language in CODES and len(out.get(tok.language, [])) < per_lang:
            out.setdefault(tok.language, []).extend(d["text"].splitlines()[:5])
    return out


def run_variant(variant: str, sample: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, variant, ",".join(CODES)], input=json.dumps(sample),
                          capture_output=True, text=True, cwd=str(REPO), check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    sample = ud_sample()
    blank, direct = run_variant("spacy_blank", sample), run_variant("direct", sample)
    same = sum(blank["tokens"][c] == direct["tokens"][c] for c in CODES)
    total = {name: round(sum(r["per_language_s"].values()), 2) for name, r in (("spacy_blank", blank),
                                                                               ("direct", direct))}
    result = {"languages": len(CODES), "cpu_seconds": "process_time of a fresh process",
              "import_spacy_s": blank["import_s"],
              "all_languages_s": total,
              "per_language_mean_s": {k: round(v / len(CODES), 3) for k, v in total.items()},
              "ratio": round(total["spacy_blank"] / max(total["direct"], 1e-3), 1),
              "slowest_direct": dict(sorted(direct["per_language_s"].items(), key=lambda kv: -kv[1])[:5]),
              "identical_tokens_languages": f"{same}/{len(CODES)}",
              "sentences_compared": sum(len(v) for v in sample.values())}
    write_result("tokenizer_startup", result)
    print(json.dumps(result))
    return 0 if same == len(CODES) else 1


if __name__ == "__main__":
    sys.exit(main())
