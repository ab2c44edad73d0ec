"""Foundations: vocabulary, numerics, files, seeds, profiles, paths, executors, published figures, plots.

Every other layer may import these; they import nothing else of the package.

Its modules and what each does: ``speechemo.LAYERS``."""
