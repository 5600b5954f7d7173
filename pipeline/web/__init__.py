"""From the raw web to documents: HTML main-text extraction, URL block lists and PII detection.

Libraries under the stages ``html_extract``, ``url_filter`` and ``pii``; WARC/WET reading is
the engine's (``xcurate.engine.warc``), because the engine owns every reader.
"""
