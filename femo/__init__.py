"""femo: facial-expression analysis of labelled video clips, sharded over clusters."""

__version__ = "0.3.0"


def __getattr__(name: str) -> object:
    # femo.open_run is imported on first use: `import femo` stays light (no pandas,
    # no TensorFlow).
    if name == "open_run":
        from .results.api import open_run

        return open_run
    raise AttributeError(f"module 'femo' has no attribute {name!r}")
