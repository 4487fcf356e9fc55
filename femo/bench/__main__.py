"""``python -m femo.bench``: the bench's command line, and its workers' entry point."""

from .run import main

raise SystemExit(main())
