"""Analysis: layer and transfer probes, cross-corpus scoring, descriptive statistics.

Its modules and what each does: ``speechemo.LAYERS``."""
