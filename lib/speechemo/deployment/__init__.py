"""Deployment: robustness suite, the deployed heads' choice and export, model card, README tables.

Its modules and what each does: ``speechemo.LAYERS``."""
