"""Data: corpora (RAVDESS, CREMA-D, other readers, synthetic layouts), download, audio front end, metadata.

Its modules and what each does: ``speechemo.LAYERS``."""
