"""femo: facial-expression analysis of labelled video clips, sharded over clusters."""

__version__ = "0.4.0"


def __getattr__(name: str) -> object:
    # femo.open_run is loaded on first use, so `import femo` stays light (no pandas, no
    # TensorFlow). It is an attribute-time import by name: the modules behind it import
    # this package for __version__, which a static import here would make a cycle.
    if name == "open_run":
        import importlib

        return importlib.import_module(".results.api", __name__).open_run
    raise AttributeError(f"module 'femo' has no attribute {name!r}")
