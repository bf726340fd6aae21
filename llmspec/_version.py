"""The version, in a module of its own: the CLI reads it from here, so that it still starts (and can explain the
conflict) when another distribution's ``llmspec/__init__.py`` has overwritten this package's."""

__version__ = "0.1.0"
