"""Helper package of the speech emotion & gender workbook (RAVDESS).

Modules are small and named for what they do: ``ravdess`` (names, labels, folds),
``synthetic`` (offline corpus), ``download`` (fetch + verify + extract), ``metadata``
(table + integrity report), ``audio`` (decoding front end), ``features`` (feature sets
and cache), ``evaluation`` (protocols, metrics, results table), ``classical`` and
``deep`` (models), ``plots``, ``export`` and ``app`` (deployment).
"""

__version__ = "0.1.0"
