"""Helper package of the speech emotion & gender workbook (RAVDESS).

Modules are small and named for what they do: ``ravdess`` (names, labels, folds),
``synthetic`` (offline corpus), ``download`` (fetch + verify + extract), ``metadata``
(table + integrity report), ``corpora`` (the corpus registry and readers), ``cremad`` (CREMA-D:
names, folds, manifest download), ``datasets`` (one corpus or a union), ``speakers`` (id, fold and
gender of every training speaker), ``audio`` (decoding front end), ``features`` (feature sets
and cache), ``evaluation`` (protocols, metrics, results table), ``classical`` and
``deep`` (models), ``plots``, ``export`` and ``app`` (deployment).
"""

__version__ = "0.1.0"
