"""Benchmark contamination: the library under the ``decontaminate`` / ``decontaminate_xling`` stages.

* ``suites``: benchmark suites as YAML data, built-in adapters, loading;
* ``tokens``: normalisation, token hashing, n-gram and rolling window hashes;
* ``ngram_index``: the same-language n-gram index of a suite and matching against it;
* ``xling_index``: passages, anchors, the cross-lingual (embedding) index and matching;
* ``encoders``: multilingual sentence encoders behind one interface;
* ``cache``: built indexes on disk, memory-mapped by every worker of a node.
"""
