"""What femo may add to each face beyond its emotions, one registry each: its identity
(``identity``: an embedding per face) and its landmarks (``landmarks``: a mesh per face).

Each has a ``none`` option, the default, which builds nothing: a run without it keeps
the shards and keys of a run made before the option existed. The node builds the
others from their entry (no arguments); ``femo run`` checks first that what they need
is installed (their preflight).
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Entry, Registry


@dataclass(frozen=True)
class IdentityConfig:
    # none | dlib (each face's 128-d embedding from dlib's ResNet; the femo[identity] extra)
    name: str = "none"

    def __post_init__(self) -> None:
        IDENTITIES.require(self.name)

    @property
    def active(self) -> bool:
        """Whether each face gets an embedding (the option builds an embedder)."""
        return IDENTITIES.require(self.name).builds


@dataclass(frozen=True)
class LandmarksConfig:
    # none | mesh (MediaPipe's 468-point face mesh per face, normalised, in the shard's
    # mesh column; femo fit uses it)
    name: str = "none"

    def __post_init__(self) -> None:
        LANDMARKS.require(self.name)

    @property
    def active(self) -> bool:
        """Whether each face gets its landmarks (the shard's ``mesh`` column)."""
        return LANDMARKS.require(self.name).builds


IDENTITIES: Registry[Entry] = Registry("identity.name", (
    Entry(name="none", display="no identities", settings=IdentityConfig),
    Entry(name="dlib", display="dlib's ResNet face embedding", settings=IdentityConfig,
          builder="femo.node.identity:Embedder",
          preflight="femo.node.identity:check_installed"),
), default="none")  # fmt: skip

LANDMARKS: Registry[Entry] = Registry("landmarks.name", (
    Entry(name="none", display="no landmarks", settings=LandmarksConfig),
    Entry(name="mesh", display="MediaPipe's 468-point face mesh", settings=LandmarksConfig,
          builder="femo.node.landmarks:MeshLandmarks",
          preflight="femo.node.landmarks:check_installed"),
), default="none")  # fmt: skip
