"""Machine translation backends and text handling for ``xcurate synth``."""
