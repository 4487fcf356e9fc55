"""A head learnt on labelled clips: clip features in, one class per clip out.

The study's method votes over each frame's top emotion. The vote throws away what the
scores below the top say (a Negative clip whose angry and disgust scores are raised but
whose top emotion stays neutral is called Neutral), so this package learns a small linear
head over per-clip summaries of the scores instead:

* :func:`clip_features` summarises each clip's frames (mean scores, mean log scores,
  vote shares, face-found rate, detector confidence);
* :func:`fit_head` fits standardisation + multinomial logistic regression, its
  regularisation chosen by cross-validation grouped by person;
* :func:`cross_validate_head` measures the head against the vote on the same held-out
  clips, never training and testing on one person;
* a :class:`Head` is saved as plain JSON (:func:`head_to_json`, :func:`head_from_json`),
  never pickled, so a head file from someone else cannot run code, and
  :func:`predict_head` applies it with numpy alone.

With runs made with ``landmarks=mesh``, :mod:`.mesh_features` adds each clip's mean face mesh,
reduced on its own inside the head.

One module per job: :mod:`.features`, :mod:`.mesh_features`, :mod:`.model`, :mod:`.crossval`, :mod:`.headfile`
(reading and writing head files), :mod:`.report` (the fit report) and :mod:`.command`
(``femo fit`` over run folders).
"""

from .crossval import cross_validate_head, cv_figures
from .features import LOG_EPSILON, clip_features, feature_names_for
from .headfile import (
    FORMAT,
    VERSION,
    check_head_fits,
    head_from_json,
    head_to_json,
    load_head,
    save_head,
)
from .model import (
    C_GRID,
    INNER_FOLDS,
    MAX_ITER,
    MIN_GROUPS_FOR_GROUPED_INNER_CV,
    SCORING,
    Head,
    fit_head,
    head_probabilities,
    predict_head,
)
from .report import fit_report_markdown

__all__ = [
    "C_GRID", "FORMAT", "INNER_FOLDS", "LOG_EPSILON", "MAX_ITER",
    "MIN_GROUPS_FOR_GROUPED_INNER_CV", "SCORING", "VERSION", "Head", "check_head_fits",
    "clip_features", "cross_validate_head", "cv_figures", "feature_names_for", "fit_head",
    "fit_report_markdown", "head_from_json", "head_probabilities", "head_to_json", "load_head",
    "predict_head", "save_head",
]  # fmt: skip
