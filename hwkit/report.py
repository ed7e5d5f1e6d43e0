"""Grade reports: grades.csv, a per-student summary page (hwkit/templates/feedback/summary.html.j2, in
the look of the notebooks' feedback pages), a summary figure and a console table."""
from __future__ import annotations

import csv
from pathlib import Path

import jinja2
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .course import Course
from .feedback import BOOTSTRAP_CSS_DIR, TEMPLATES, install_mathjax
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
    """feedback/<student>/<assignment>/index.html: points per notebook and question, and every reason
    points were lost; and the copy of MathJax the folder's notebook pages load (the folder is
    complete: it can be handed to the student as it is)."""
    template = _templates().get_template("summary.html.j2")
    for student, grades in _by_student(run).items():
        folder = course.feedback / student / course.assignment
        folder.mkdir(parents=True, exist_ok=True)
        install_mathjax(folder)
        complete = all(g.graded for g in grades)
        (folder / "index.html").write_text(template.render(
            assignment=course.assignment, student=student, notebooks=[_notebook_summary(g, folder) for g in grades],
            total=sum(g.total for g in grades) if complete else None, maximum=sum(g.max_total for g in grades),
            pending=sum(_pending(g) for g in grades if g.graded), notes=run.notes.get(student, [])))


def _templates() -> jinja2.Environment:
    """hwkit's feedback templates, with nbgrader's `include_css` (a file of the loader's, as it is)."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader([TEMPLATES / "feedback", BOOTSTRAP_CSS_DIR]),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.globals["include_css"] = lambda name: Markup(
        f'<style type="text/css">\n{environment.loader.get_source(environment, name)[0]}\n</style>')
    return environment


def _notebook_summary(grade: NotebookGrade, folder: Path) -> dict:
    page = f"{Path(grade.notebook).stem}.html"
    return {"name": grade.notebook, "page": page if (folder / page).exists() else None, "graded": grade.graded,
            "status": grade.status, "total": grade.total, "maximum": grade.max_total, "problems": grade.problems,
            "questions": [{"name": q, "score": grade.scores.get(q), "maximum": m} for q, m in grade.max_scores.items()]}


def _pending(grade: NotebookGrade) -> float:
    """Points of the questions that wait for a TA."""
    return sum(m for q, m in grade.max_scores.items() if grade.scores.get(q) is None)


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


NOT_GRADED = {"color": "#d9d9d9", "hatch": "//", "edgecolor": "#8c8c8c"}  # never drawn as 0: grey and hatched


def write_summary_figure(run: GradeRun, path: Path) -> Path:
    """A PNG beside grades.csv: `summary_figure`."""
    summary_figure(run).savefig(path, dpi=110)
    return path


def summary_figure(run: GradeRun) -> Figure:
    """The distribution of the students' totals (counted in whole students) and the mean score per
    question. Students whose grading did not finish, and written answers that wait for a TA, are
    shown apart as "not graded", never as 0 points."""
    students = _by_student(run)
    graded = [grades for grades in students.values() if all(g.graded for g in grades)]
    questions = _question_scores(graded)
    figure = Figure(figsize=(13, max(4.5, 0.28 * len(questions) + 1.5)))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    _plot_totals(left, graded, len(students) - len(graded))
    _plot_questions(right, questions)
    figure.tight_layout()
    return figure


def _plot_totals(axes, graded: list[list[NotebookGrade]], not_graded: int) -> None:
    totals = [sum(g.total for g in grades) for grades in graded]
    maximum = max((sum(g.max_total for g in grades) for grades in graded), default=0) or 1
    pending = max((sum(_pending(g) for g in grades) for grades in graded), default=0)
    bins = min(20, max(5, len(totals)))
    axes.hist(totals, bins=bins, range=(0, maximum), color="#4c72b0", edgecolor="white")
    if not_graded:  # a bar of its own beyond the maximum
        width = maximum / bins
        axes.bar(maximum + 1.5 * width, not_graded, width=width, **NOT_GRADED)
        axes.annotate("not\ngraded", (maximum + 1.5 * width, not_graded), ha="center", va="bottom", fontsize=8,
                      xytext=(0, 2), textcoords="offset points")
        axes.set_xticks([t for t in axes.get_xticks() if 0 <= t <= maximum])  # no points beyond the maximum
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("students")
    waiting = f"; up to {pending:g} wait for a TA" if pending else ""
    axes.set_xlabel(f"points graded so far (of {maximum:g}{waiting})")
    mean = f", mean {sum(totals) / len(totals):.1f}" if totals else ""
    apart = f"; {not_graded} not graded" if not_graded else ""
    axes.set_title(f"Score distribution ({len(totals)} students{mean}{apart})")


def _question_scores(graded: list[list[NotebookGrade]]) -> dict[str, tuple[float, list[float], int]]:
    """question -> (its points, the graded students' fractions of them, how many wait for a TA)."""
    found: dict[str, tuple[float, list[float], int]] = {}
    for grades in graded:
        for grade in grades:
            for question, maximum in grade.max_scores.items():
                if not maximum:
                    continue
                _, fractions, waiting = found.setdefault(question, (maximum, [], 0))
                score = grade.scores.get(question)
                if score is None:
                    found[question] = (maximum, fractions, waiting + 1)
                else:
                    fractions.append(score / maximum)
    return found


def _plot_questions(axes, questions: dict[str, tuple[float, list[float], int]]) -> None:
    for row, (maximum, fractions, waiting) in enumerate(questions.values()):
        if fractions:
            mean = 100 * sum(fractions) / len(fractions)
            axes.barh(row, mean, color="#55a868")
            label, at = f"{mean:.0f} %" + (f" ({waiting} not graded yet)" if waiting else ""), mean
        else:
            axes.barh(row, 100, **NOT_GRADED)
            label, at = f"not graded yet ({waiting} students)", 0
        axes.annotate(label, (at, row), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    axes.set_yticks(range(len(questions)), [f"{q} ({m:g})" for q, (m, _, _) in questions.items()], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("mean score, % of the question's points (students graded)")
    axes.set_title("Per-question mean score")
