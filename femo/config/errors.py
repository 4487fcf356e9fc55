"""The one error every config check raises: :class:`ConfigError`, a line a person can act on.

Its own module so that the registries (:mod:`.registry` and the roles' modules) and the
sections (:mod:`.sections`) raise the same class without importing each other.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem a person can fix; its message is one readable line."""
