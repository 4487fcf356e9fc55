"""The fit report: :func:`~femo.results.fit.crossval.cross_validate_head`'s figures as
Markdown."""

from __future__ import annotations

from typing import Any

from ..pages.formatting import brackets, level_text, p_value, percent, points
from .model import MIN_GROUPS_FOR_GROUPED_INNER_CV


def _inner_text(units: list[str]) -> str:
    by_clip = units.count("clip")
    if by_clip == 0:
        return "cross-validation grouped by person"
    if by_clip == len(units):
        return "stratified cross-validation over clips"
    return (
        f"cross-validation grouped by person (stratified over clips in {by_clip} fold(s) "
        f"whose training part had fewer than {MIN_GROUPS_FOR_GROUPED_INNER_CV} persons)"
    )


def fit_report_markdown(cv: dict[str, Any]) -> str:
    """A short Markdown report of :func:`~femo.results.fit.crossval.cross_validate_head`'s
    figures."""
    folds, ci = cv["folds"], cv["ci"]
    classes = cv["classes"]
    unit = "person" if folds["unit"] == "person" else "clip"
    units = "persons" if unit == "person" else "clips"
    lines = [
        "## Learnt head vs the study's method",
        "",
        f"Cross-validated over {cv['all']['n']} labelled clips: {folds['n_splits']} folds "
        f"grouped by {unit} ({folds['n_units']} {units}"
        + ("; no person is both trained and tested on in a fold" if unit == "person" else "")
        + "). C was chosen inside each training fold by "
        + _inner_text(folds.get("inner_unit", []))
        + f" (chosen: {', '.join(f'{c:.3g}' for c in folds['C'])}). Both methods are scored "
        "on the same held-out clips; the vote is the study's method. Intervals are "
        f"{level_text(ci['level'])} {ci['method']} intervals ({ci['resamples']} resamples "
        f"of {units}).",
        "",
        "| Clips | n | Study's method (vote) | Learnt head | Head − vote | McNemar p |",
        "|---|---:|---|---|---|---:|",
    ]
    for key, title in (("all", "All labelled (no face = wrong)"), ("with_face", "With a face")):
        part = cv[key]
        if not part["n"]:
            lines.append(f"| {title} | 0 | | | | |")
            continue
        vote, head, comp = part["vote"], part["head"], part["comparison"]
        diff = comp["difference"]
        diff_ci = comp["difference_ci"]
        diff_text = points(diff) + brackets(diff_ci, signed=True)
        lines.append(
            f"| {title} | {part['n']} | {percent(vote['accuracy'])}{brackets(vote['accuracy_ci'])} | "
            f"{percent(head['accuracy'])}{brackets(head['accuracy_ci'])} | {diff_text} | "
            f"{p_value(comp['mcnemar_p'])} |"
        )
    why = next((cv[k].get("ci_withheld") for k in ("all", "with_face") if cv[k]["n"]), None)
    if why:
        lines += ["", f"No intervals ({why}): a bootstrap of so few {units} says little."]
    lines += _mesh_lines(cv)
    part = cv["all"]
    if part["n"]:
        lines += [
            "",
            "Recall per class (all labelled clips):",
            "",
            "| Class | Support | Study's method (vote) | Learnt head |",
            "|---|---:|---|---|",
        ]
        for c in classes:
            lines.append(
                f"| {c} | {part['support'][c]} | "
                f"{percent(part['vote']['recall'][c])}{brackets(part['vote']['recall_ci'][c])} | "
                f"{percent(part['head']['recall'][c])}{brackets(part['head']['recall_ci'][c])} |"
            )
    return "\n".join(lines) + "\n"


def _p_text(p: float) -> str:
    shown = p_value(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _difference_text(part: dict[str, Any], comp: dict[str, Any]) -> str:
    """A paired difference in points with its interval, or why there is none."""
    why = part.get("ci_withheld")
    return points(comp["difference"]) + (
        f" ({why})" if why else brackets(comp["difference_ci"], signed=True)
    )


def held_out_line(cv: dict[str, Any]) -> str | None:
    """``femo fit``'s console line: both accuracies over all labelled clips, the paired
    difference with its interval (or why there is none) and McNemar's p; None when
    nothing was scored."""
    part = cv["all"]
    if not part["n"]:
        return None
    head, vote, comp = part["head"], part["vote"], part["comparison"]
    difference = _difference_text(part, comp)
    return (
        f"held-out accuracy: head {percent(head['accuracy'])}{brackets(head['accuracy_ci'])}, "
        f"the study's vote {percent(vote['accuracy'])}{brackets(vote['accuracy_ci'])} "
        f"(the same {part['n']} clips; folds grouped by {cv['folds']['unit']}); "
        f"head − vote {difference}, McNemar {_p_text(comp['mcnemar_p'])}"
    )


def mesh_line(cv: dict[str, Any]) -> str | None:
    """``femo fit``'s console line on a run with the face's mesh: the head with the mesh
    against the same head on the scores alone, paired, with the same interval rule as
    :func:`held_out_line`; None without a mesh."""
    part = cv["all"]
    comp = part.get("mesh_comparison") if part["n"] else None
    if comp is None:
        return None
    difference = _difference_text(part, comp)
    return (
        f"with the face's mesh: {percent(part['head']['accuracy'])} against "
        f"{percent(part['scores_only']['accuracy'])} on the scores alone; mesh − scores only "
        f"{difference} (paired, same folds), McNemar {_p_text(comp['mcnemar_p'])}"
    )


def _mesh_lines(cv: dict[str, Any]) -> list[str]:
    """The head with the face's mesh against the same head on the scores alone."""
    if "mesh_comparison" not in cv["all"]:
        return []
    chosen = cv["folds"].get("mesh", [])
    choices = ", ".join(f"{m['components']} ({m['scaling']})" for m in chosen)
    lines = [
        "",
        "## The face's mesh",
        "",
        "The head above uses the face's mesh (landmarks=mesh): each clip's mean mesh of the "
        "scored face, reduced on its own by PCA, its scaling and number of components chosen "
        f"with C inside each training fold (components, scaling: {choices}). The same head "
        "without the mesh, fitted on the same folds:",
        "",
        "| Clips | n | Scores only | With the mesh | Mesh − scores only | McNemar p |",
        "|---|---:|---|---|---|---:|",
    ]
    for key, title in (("all", "All labelled (no face = wrong)"), ("with_face", "With a face")):
        part = cv[key]
        if not part["n"]:
            continue
        plain, head, comp = part["scores_only"], part["head"], part["mesh_comparison"]
        lines.append(
            f"| {title} | {part['n']} | {percent(plain['accuracy'])}"
            f"{brackets(plain['accuracy_ci'])} | {percent(head['accuracy'])}"
            f"{brackets(head['accuracy_ci'])} | {points(comp['difference'])}"
            f"{brackets(comp['difference_ci'], signed=True)} | {p_value(comp['mcnemar_p'])} |"
        )
    return lines


def fit_lines(outcome: Any) -> list[str]:
    """What ``femo fit`` prints: the held-out accuracies, the mesh's difference, the files
    and how to use the head (``outcome``: :class:`~femo.results.fit.command.FitOutcome`)."""
    lines = [line for line in (held_out_line(outcome.cv), mesh_line(outcome.cv)) if line]
    return [
        *lines,
        f"head: {outcome.head_file}",
        f"fit report: {outcome.report_file}",
        f"use it: femo reduce OTHER_RUN reduce.head={outcome.head_file}",
    ]
