"""Models: dual ridge, linear heads with temperature scaling, the classical models, the deep models.

Its modules and what each does: ``speechemo.LAYERS``."""
