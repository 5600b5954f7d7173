"""The shipped stages: one module per stage, each a thin operator over the libraries in
``xcurate.text``, ``xcurate.dedup``, ``xcurate.contamination`` and ``xcurate.mt``.

Every module registers its stages with ``@register`` (``xcurate.engine.registry``), which
finds them by name; nothing here is imported by the engine directly.
"""
