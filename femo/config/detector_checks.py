"""Each detector's own settings checks, named by its entry in :mod:`.detectors`
(``check``) and run by :class:`~femo.config.sections.DetectorConfig` after the checks all
detectors share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sections import ConfigError

if TYPE_CHECKING:
    from .sections import DetectorConfig


def blazeface_models(model: str) -> tuple[str, list[str]]:
    """``detector.model`` as (how models combine: '+' merged or '/' cascade, the models)."""
    joiner = "/" if "/" in model else "+"
    return joiner, list(dict.fromkeys(model.split(joiner)))


def check_haar(c: DetectorConfig) -> None:
    """Haar's own settings: its pyramid grows (scale_factor > 1)."""
    if not c.scale_factor > 1:
        raise ConfigError(f"detector.scale_factor must be > 1 for Haar, not {c.scale_factor}")


def check_mtcnn(c: DetectorConfig) -> None:
    """MTCNN's own settings: its pyramid shrinks (0 < scale_factor < 1)."""
    if not 0 < c.scale_factor < 1:
        raise ConfigError(
            f"detector.scale_factor must be between 0 and 1 for MTCNN, not {c.scale_factor}"
        )


def check_blazeface(c: DetectorConfig) -> None:
    """BlazeFace's own settings: its models, their joiner, min_score and nms_iou."""
    joiner, models = blazeface_models(c.model or "")
    mixed = joiner == "/" and "+" in c.model
    if not c.model or mixed or any(m not in ("short", "full", "back") for m in models):
        raise ConfigError(
            f"detector.model must be short, full, back, models joined by '+' (merged, "
            f"e.g. short+back) or by '/' (a cascade, e.g. short/back), not {c.model!r}"
        )
    if c.min_score is not None and not 0 < c.min_score < 1:
        raise ConfigError(
            f"detector.min_score must be between 0 and 1 or null, not {c.min_score!r}"
        )
    if not 0 < c.nms_iou < 1:
        raise ConfigError(f"detector.nms_iou must be between 0 and 1, not {c.nms_iou!r}")
