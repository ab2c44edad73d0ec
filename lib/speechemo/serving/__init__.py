"""Serving: load an exported bundle and answer clips, long recordings and the dashboard's pages.

Imports nothing from training (protocol, models, analysis, deployment, workbook).

Its modules and what each does: ``speechemo.LAYERS``."""
