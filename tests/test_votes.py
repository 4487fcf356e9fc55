"""Aggregations beyond the study's vote (``reduce.vote``, ``reduce.no_face``), by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from femo.config import EMOTIONS, ConfigError, MappingConfig, ReduceConfig
from femo.results.reduce import balanced_vote, class_scores, mean_vote

from .builders import clip_row, clip_rows, face, make_run, reduce, videos_csv, write_shard

pytestmark = pytest.mark.usefixtures("no_tensorflow")
THREE = MappingConfig()


def frames(rows: list[tuple[str, dict[str, float]]]) -> pd.DataFrame:
    """A per-frame table (video, 7 scores), as frame_emotions returns it."""
    return pd.DataFrame([{"video": v, **{e: s.get(e, 0.0) for e in EMOTIONS}} for v, s in rows])


def test_mean_vote_differs_from_the_majority_where_it_should(tmp_path):
    # two frames lean 'neutral' a little, one frame is strongly 'angry':
    # majority -> Neutral (2 of 3); mean scores -> angry (0.9+0.3+0.3)/3 > neutral 0.4 -> Negative
    rows = [
        face("a.mp4", 0, angry=0.3, neutral=0.4),
        face("a.mp4", 5, angry=0.3, neutral=0.4),
        face("a.mp4", 10, angry=0.9, neutral=0.05),
        clip_row("a.mp4", frames_sampled=3),
    ]
    run_dir = make_run(tmp_path, ["a.mp4"], per_shard=1, labels={"a.mp4": "Negative"})
    write_shard(run_dir, 0, rows)
    assert reduce(run_dir).metrics["accuracy"] == 0.0  # the study's vote: Neutral
    assert videos_csv(run_dir)[1].startswith("a.mp4,,Neutral,Negative,ok,3,3,0,2,1")
    assert reduce(run_dir, vote="mean").metrics["accuracy"] == 1.0
    assert mean_vote(frames([("x", {"happy": 0.5, "sad": 0.4}), ("x", {"sad": 0.6})]), THREE) == {
        "x": "Neutral"  # mean: happy 0.25, sad 0.5
    }


def test_class_scores_are_shares_of_the_mean():
    scores = class_scores(
        frames([("x", {"happy": 0.2, "surprise": 0.2, "sad": 0.4, "angry": 0.2})]), THREE
    )
    assert scores.loc["x"].to_dict() == pytest.approx(
        {"Positive": 0.4, "Neutral": 0.4, "Negative": 0.2}
    )


def test_balanced_vote_matches_the_target_shares_by_rank():
    rng = np.random.default_rng(0)
    # every clip leans Neutral (the study's bias); Negative-ness still ranks the clips
    neg = rng.random(300)
    scores = pd.DataFrame(
        {
            "Positive": 0.2 + 0.1 * rng.random(300),
            "Neutral": 0.6 - 0.3 * neg,
            "Negative": 0.2 + 0.3 * neg,
        },
        index=[f"c{i}" for i in range(300)],
    )
    predicted = balanced_vote(scores, None)
    counts = pd.Series(predicted).value_counts()
    assert all(abs(counts.get(c, 0) - 100) <= 3 for c in ("Positive", "Neutral", "Negative")), (
        counts
    )
    # the clips called Negative are the most Negative-leaning ones
    negative = [i for i, v in enumerate(predicted.values()) if v == "Negative"]
    assert np.median(neg[negative]) > np.median(neg)
    shares = pd.Series(
        balanced_vote(scores, {"Positive": 1, "Neutral": 2, "Negative": 1})
    ).value_counts()
    assert abs(shares["Neutral"] - 150) <= 3


def test_no_face_abstains(tmp_path):
    run_dir = make_run(
        tmp_path, ["a.mp4", "b.mp4", "c.mp4"], per_shard=3,
        labels={"a.mp4": "Positive", "b.mp4": "Neutral", "c.mp4": "Negative"},
    )  # fmt: skip
    write_shard(run_dir, 0, [*clip_rows("a.mp4", ["happy"]), *clip_rows("b.mp4", ["happy"]),
                             *clip_rows("c.mp4", [None, None])])  # fmt: skip
    wrong = reduce(run_dir).metrics
    assert (wrong["accuracy"], wrong["n_labelled"], wrong["coverage"]) == (1 / 3, 3, 1.0)
    abstain = reduce(run_dir, no_face="abstain").metrics
    assert (abstain["accuracy"], abstain["n_compared"], abstain["n_labelled"]) == (0.5, 2, 3)
    assert abstain["coverage"] == pytest.approx(2 / 3)
    assert abstain["confusion"]["Negative"]["none"] == 0
    assert "coverage 66.7%" in (run_dir / "report" / "report.md").read_text().splitlines()[2]
    page = (run_dir / "report" / "index.html").read_text()
    assert "1 of 2 labelled clips right" in page and "coverage 66.7 % of the 3" in page


def test_bad_aggregation_settings():
    with pytest.raises(ConfigError, match="class_shares must be non-negative"):
        ReduceConfig(vote="balanced", class_shares={"Positive": -1})
