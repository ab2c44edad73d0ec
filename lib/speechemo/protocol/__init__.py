"""Protocol: speaker folds, the within / pooled / leave-one-corpus-out protocols, metrics, the results table.

Its modules and what each does: ``speechemo.LAYERS``."""
