"""Token-budgeted multilingual mixtures: config, sources, tokenizers, policies, planning, sampling, engine phases."""
