"""Features: the feature-set and encoder registries, the per-clip sets, the Whisper encoder, the cache.

Its modules and what each does: ``speechemo.LAYERS``."""
