"""Grade reports: grades.csv, a per-student summary page, a summary figure and a console table."""
from __future__ import annotations

import csv
import html
from pathlib import Path

from .course import Course
from .results import GradeRun, NotebookGrade


def _by_student(run: GradeRun) -> dict[str, list[NotebookGrade]]:
    table: dict[str, list[NotebookGrade]] = {}
    for grade in run.grades:
        table.setdefault(grade.student, []).append(grade)
    return table


def sandbox_label(run: GradeRun) -> str:
    return {True: "bubblewrap", False: "NONE (--unsandboxed)"}.get(run.sandboxed, "")


def status_of(grades: list[NotebookGrade]) -> str:
    """"graded", or every notebook's "not graded: <reason>"."""
    missing = [g for g in grades if not g.graded]
    if not missing:
        return "graded"
    if len(missing) == len(grades) and len({g.status for g in missing}) == 1:
        return missing[0].status
    return "; ".join(f"{Path(g.notebook).stem} {g.status}" for g in missing)


def write_grades_csv(run: GradeRun, path: Path) -> None:
    """One row per student: points per question and per notebook, total and maximum, whether it was
    graded (a notebook whose grading did not finish has empty cells, never 0, and the row's status
    says "not graded: <reason>"), and the sandbox student code ran in."""
    students = _by_student(run)
    if not students:
        path.write_text("student_id,total,max_total,status,sandbox\n")
        return
    first = next(iter(students.values()))
    questions = [q for g in first for q in g.max_scores]
    notebooks = [Path(g.notebook).stem for g in first]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", *questions, *notebooks, "total", "max_total", "status", "sandbox"])
        for student, grades in students.items():
            scores = {q: s for g in grades if g.graded for q, s in g.scores.items()}
            complete = all(g.graded for g in grades)
            writer.writerow([student, *(_fmt(scores.get(q)) for q in questions),
                             *(_fmt(g.total if g.graded else None) for g in grades),
                             _fmt(sum(g.total for g in grades) if complete else None),
                             _fmt(sum(g.max_total for g in grades)), status_of(grades), sandbox_label(run)])


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def write_summaries(run: GradeRun, course: Course) -> None:
    """feedback/<student>/<assignment>/index.html: scores and every reason points were lost."""
    for student, grades in _by_student(run).items():
        folder = course.feedback / student / course.assignment
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for grade in grades:
            link = f'<a href="{html.escape(Path(grade.notebook).stem)}.html">{html.escape(grade.notebook)}</a>' \
                if (folder / f"{Path(grade.notebook).stem}.html").exists() else html.escape(grade.notebook)
            problems = "".join(f"<li>{html.escape(p)}</li>" for p in grade.problems) or "<li>no problems</li>"
            points = f"{grade.total:g} / {grade.max_total:g}" if grade.graded else html.escape(grade.status.upper())
            rows.append(f"<tr><td>{link}</td><td>{points}</td><td><ul>{problems}</ul></td></tr>")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in run.notes.get(student, []))
        total = sum(g.total for g in grades) if all(g.graded for g in grades) else "NOT GRADED"
        maximum = sum(g.max_total for g in grades)
        (folder / "index.html").write_text(
            f"<!doctype html><meta charset='utf-8'><title>{html.escape(course.assignment)} feedback: {html.escape(student)}</title>"
            f"<h1>{html.escape(course.assignment)}: {html.escape(student)}</h1><p>Total: {total if isinstance(total, str) else f'{total:g}'} / {maximum:g}"
            " (written answers are added when they have been graded by hand)</p>"
            f"<table border=1 cellpadding=4><tr><th>notebook</th><th>points</th><th>why points were lost</th></tr>{''.join(rows)}</table>"
            + (f"<h2>Other notes</h2><ul>{notes}</ul>" if notes else ""))


REASONS_SHOWN = 4  # per notebook on the console; the feedback page lists them all


def console_table(run: GradeRun) -> str:
    """The score table `hwkit grade` and `hwkit demo` print."""
    students = _by_student(run)
    if not students:
        return "no submissions found"
    notebooks = [Path(g.notebook).stem for g in next(iter(students.values()))]
    width = max(12, *(len(s) for s in students))
    header = f"{'student':<{width}} " + " ".join(f"{n[:18]:>18}" for n in notebooks) + f" {'total':>12}"
    lines = [header, "-" * len(header)]
    if run.sandboxed is False:
        lines.insert(0, "WARNING: graded WITHOUT a sandbox (--unsandboxed): student code ran with your rights")
    for student, grades in students.items():
        cells = " ".join(f"{f'{g.total:g}/{g.max_total:g}' if g.graded else 'NOT GRADED':>18}" for g in grades)
        total = (f"{sum(g.total for g in grades):g}/{sum(g.max_total for g in grades):g}"
                 if all(g.graded for g in grades) else "NOT GRADED")
        lines.append(f"{student:<{width}} {cells} {total:>12}")
        for grade in grades:
            if not grade.graded:
                lines.append(f"{'':<{width}}   - {grade.notebook}: {grade.status}")
            lines.extend(f"{'':<{width}}   - {p}" for p in grade.problems[:REASONS_SHOWN])
            if len(grade.problems) > REASONS_SHOWN:
                lines.append(f"{'':<{width}}   - ... and {len(grade.problems) - REASONS_SHOWN} more reasons for "
                             f"{grade.notebook} in feedback/{student}/<assignment>/index.html")
    return "\n".join(lines)


def write_summary_figure(run: GradeRun, path: Path) -> Path:
    """A PNG beside grades.csv: the distribution of total scores and the mean score per question."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = {s: grades for s, grades in _by_student(run).items() if all(g.graded for g in grades)}
    totals = [sum(g.total for g in grades) for grades in students.values()]
    maximum = max((sum(g.max_total for g in grades) for grades in students.values()), default=0)
    questions: dict[str, list[float]] = {}
    maxima: dict[str, float] = {}
    for grades in students.values():
        for grade in grades:
            for question, score in grade.scores.items():
                if grade.max_scores.get(question) and score is not None:  # None: not graded by hand yet
                    questions.setdefault(question, []).append(score / grade.max_scores[question])
                    maxima[question] = grade.max_scores[question]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, max(4.5, 0.28 * len(questions) + 1.5)),
                                      gridspec_kw={"width_ratios": [1, 1.4]})
    left.hist(totals, bins=min(20, max(5, len(totals))), range=(0, maximum or 1), color="#4c72b0", edgecolor="white")
    left.set_xlabel(f"total points (of {maximum:g})")
    left.set_ylabel("students")
    mean = sum(totals) / len(totals) if totals else 0.0
    left.set_title(f"Score distribution ({len(totals)} students, mean {mean:.1f})")
    names = list(questions)
    means = [100 * sum(v) / len(v) for v in questions.values()]
    right.barh(range(len(names)), means, color="#55a868")
    right.set_yticks(range(len(names)), [f"{n} ({maxima[n]:g})" for n in names], fontsize=8)
    right.invert_yaxis()
    right.set_xlim(0, 100)
    right.set_xlabel("mean score, % of the question's points")
    right.set_title("Per-question mean score")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
