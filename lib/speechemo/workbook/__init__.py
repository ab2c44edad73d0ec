"""Workbook glue: what the notebooks do first and their shared steps, the papermill runner, scaling runs.

Its modules and what each does: ``speechemo.LAYERS``."""
