"""femo: facial-expression analysis of labelled video clips, sharded over clusters."""

__version__ = "0.3.0"
