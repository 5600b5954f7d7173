"""Trainable document classifiers (quality, domain, style): a logistic-regression head over hashed
character n-grams (fastText-like, no model to download) or over a multilingual sentence encoder's
embeddings (USE-m3 offline, any sentence-transformers model by id or path), one head per language
with enough examples plus a multilingual head for the rest (``model``); training with a held-out
report and per-language thresholds (``train``).

Why not fastText's own trainer: the project's fastText module is ``fasttext-predict`` (inference
only; it backs ``langid``). The training wheels (``fasttext``, ``fasttext-numpy2``) install the same
module name and would replace it. A linear model over hashed n-grams is what fastText's supervised
mode fits (without its hidden-layer averaging), and scikit-learn trains it in seconds on tens of
thousands of documents. The ``classifier`` stage still applies fastText supervised models trained
elsewhere (``.bin``/``.ftz``), through ``fasttext-predict``.
"""
