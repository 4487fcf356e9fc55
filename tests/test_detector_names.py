"""An unknown detector name is refused in one line, never run as another detector."""

from __future__ import annotations

import pytest

from femo.config import ConfigError, HaarConfig, from_dict
from femo.node.detectors import make_detector


def test_a_saved_config_with_an_unknown_detector_is_refused_in_one_line():
    with pytest.raises(ConfigError) as caught:
        from_dict({"detector": {"name": "yolo"}})
    assert str(caught.value) == (
        "detector.name must be 'haar', 'mtcnn', 'blazeface' or 'none', not 'yolo'"
    )


def test_make_detector_never_falls_back_to_mtcnn():
    config = HaarConfig()
    object.__setattr__(config, "name", "yolo")  # past the config's own check
    with pytest.raises(ConfigError) as caught:
        make_detector(config)
    assert str(caught.value) == (
        "unknown detector 'yolo': femo has haar, mtcnn, blazeface and none"
    )
