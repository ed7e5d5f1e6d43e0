"""Grade reports: grades-<assignment>.csv, a per-student summary page (hwkit/templates/feedback/summary.html.j2, in
the look of the notebooks' feedback pages), a summary figure and a console table (students' text in it
and in grades-<assignment>.csv's status shown `inert`: control characters escaped)."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .course import Course
from .feedback import BOOTSTRAP_CSS_DIR, TEMPLATES, install_mathjax
from .late import DAY, describe
from .progress import inert
from .results import GRADED, NO_SUBMISSION, GradeRun, Lateness, NotebookGrade


def _by_student(run: GradeRun) -> dict[str, list[NotebookGrade]]:
    return run.by_student()


def sandbox_label(run: GradeRun) -> str:
    return {True: "bubblewrap", False: "NONE (--unsandboxed)"}.get(run.sandboxed, "")


def status_of(grades: list[NotebookGrade], absent: bool = False) -> str:
    """"graded", "no submission", or every notebook's "not graded: <reason>"."""
    if absent:
        return NO_SUBMISSION
    missing = [g for g in grades if not g.graded]
    if not missing:
        return GRADED
    if len(missing) == len(grades) and len({g.status for g in missing}) == 1:
        return missing[0].status
    return "; ".join(f"{Path(g.notebook).stem} {g.status}" for g in missing)


@dataclass(frozen=True)
class StudentTotal:
    """One student's points, split the way people ask about them. None: no grade (not graded)."""

    automatic: float | None
    automatic_max: float
    given: float  # points of written answers graded so far (0 for a notebook not handed in)
    manual_max: float
    awaiting: float  # points of written answers a TA has not graded yet
    penalty: float  # late penalty, points
    total: float | None  # automatic + given - penalty: the points so far
    max_total: float

    @property
    def manual(self) -> float | None:
        """The written answers' points once all are graded; None while any awaits a TA."""
        return None if self.awaiting or self.automatic is None else self.given


def student_total(grades: list[NotebookGrade], lateness: Lateness | None = None) -> StudentTotal:
    complete = all(g.graded for g in grades)
    written = [(g.max_scores[q], s) for g in grades for q, s in g.manual_scores.items()]
    given = sum(s for _, s in written if s is not None)
    awaiting = sum(m for m, s in written if s is None) if complete else 0.0
    automatic = sum(g.automatic for g in grades) if complete else None
    penalty = lateness.points if lateness else 0.0
    return StudentTotal(automatic, sum(g.automatic_max for g in grades), given, sum(m for m, _ in written), awaiting,
                        penalty, automatic + given - penalty if automatic is not None else None,
                        sum(g.max_total for g in grades))


MANUAL_COLUMN = "manual (blank = not graded yet)"
PERSON_COLUMNS = ["first_name", "last_name", "email"]  # from the roster
SUMMARY_COLUMNS = ["automatic", "automatic_max", MANUAL_COLUMN, "manual_max", "awaiting_ta", "submitted_at",
                       "days_late", "late_penalty", "total", "max_total", "status", "sandbox"]


def write_grades_csv(run: GradeRun, path: Path) -> None:
    """One row per student (everyone on the roster), with the roster's names and email: points per question
    and per notebook; automatic points and their maximum; the written answers' points (blank while any awaits
    a TA; so is each such question's cell), their maximum and the points still awaiting a TA; when the
    submission came in, days late and the late penalty; total = automatic + written points so far - penalty.
    A notebook whose grading did not finish has empty cells, never 0, and the row's status says "not graded:
    <reason>"; who handed in nothing has 0 and "no submission" (a reason is shown `inert`: a spreadsheet or
    `cat` acts on no control character). The last column is the sandbox student code ran in."""
    students = _by_student(run)
    if not students:
        path.write_text(",".join(["student_id", *PERSON_COLUMNS, *SUMMARY_COLUMNS]) + "\n")
        return
    first = next(iter(students.values()))
    questions = [q for g in first for q in g.max_scores]
    notebooks = [Path(g.notebook).stem for g in first]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", *PERSON_COLUMNS, *questions, *notebooks, *SUMMARY_COLUMNS])
        for student, grades in students.items():
            person = run.roster.get(student)
            names = [inert(getattr(person, c) or "") if person else "" for c in PERSON_COLUMNS]
            scores = {q: s for g in grades if g.graded for q, s in g.scores.items()}
            lateness = run.late.get(student)
            total = student_total(grades, lateness)
            late = [lateness.submitted_at or "", math.ceil(lateness.seconds_late / DAY)] if lateness else ["", 0]
            writer.writerow([student, *names, *(_fmt(scores.get(q)) for q in questions),
                             *(_fmt(g.total if g.graded else None) for g in grades),
                             _fmt(total.automatic), _fmt(total.automatic_max),
                             _fmt(total.manual), _fmt(total.manual_max),
                             _fmt(total.awaiting if total.automatic is not None else None), *late,
                             _fmt(total.penalty if total.automatic is not None else None), _fmt(total.total),
                             _fmt(total.max_total), inert(status_of(grades, student in run.absent)),
                             sandbox_label(run)])


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def write_summaries(run: GradeRun, course: Course) -> None:
    """feedback/<student>/<assignment>/index.html: the total after the late penalty, points per notebook and
    question with a TA's comments, and every reason points were lost; and the copy of MathJax the folder's
    notebook pages load (the folder is complete: it can be handed to the student as it is)."""
    template = _templates().get_template("summary.html.j2")
    for student, grades in _by_student(run).items():
        folder = course.feedback / student / course.assignment
        folder.mkdir(parents=True, exist_ok=True)
        install_mathjax(folder)
        lateness = run.late.get(student)
        total = student_total(grades, lateness)
        (folder / "index.html").write_text(template.render(
            assignment=course.assignment, student=student,
            notebooks=[_notebook_summary(g, folder, lateness.notebooks.get(g.notebook, 0.0) if lateness else 0.0)
                       for g in grades],
            total=total.total, maximum=total.max_total, penalty=total.penalty,
            late=describe(lateness) if lateness else "", pending=sum(_pending(g) for g in grades if g.graded),
            notes=run.notes.get(student, [])))


def _templates() -> jinja2.Environment:
    """hwkit's feedback templates, with nbgrader's `include_css` (a file of the loader's, as it is)."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader([TEMPLATES / "feedback", BOOTSTRAP_CSS_DIR]),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.globals["include_css"] = lambda name: Markup(
        f'<style type="text/css">\n{environment.loader.get_source(environment, name)[0]}\n</style>')
    return environment


def _notebook_summary(grade: NotebookGrade, folder: Path, penalty: float = 0.0) -> dict:
    page = f"{Path(grade.notebook).stem}.html"
    return {"name": grade.notebook, "page": page if (folder / page).exists() else None, "graded": grade.graded,
            "penalty": penalty,
            "status": grade.status, "total": grade.total, "maximum": grade.max_total, "problems": grade.problems,
            "questions": [{"name": q, "score": grade.scores.get(q), "maximum": m, "comment": grade.comments.get(q)}
                          for q, m in grade.max_scores.items()]}


def _pending(grade: NotebookGrade) -> float:
    """Points of the questions that wait for a TA."""
    return sum(m for q, m in grade.max_scores.items() if grade.scores.get(q) is None)


REASONS_SHOWN = 4  # per notebook on the console; the feedback page lists them all


def console_table(run: GradeRun, assignment: str = "<assignment>") -> str:
    """The score table `hwkit grade`, `export` and `demo` print: per notebook the points and, in brackets,
    the points of written answers still awaiting a TA; per student what is automatic, what a TA gave or has
    still to grade, the late penalty, and the reasons points were lost (the rest: in the student's
    feedback/<student>/<assignment>/index.html). Students' text is shown `inert`."""
    students = _by_student(run)
    if not students:
        return "no submissions found"
    notebooks = [Path(g.notebook).stem for g in next(iter(students.values()))]
    width = max(12, *(len(inert(s)) for s in students))
    header = f"{'student':<{width}} " + " ".join(f"{n[:18]:>18}" for n in notebooks) + "  total"
    lines = [header, "-" * (len(header) + 40)]
    if run.sandboxed is False:
        lines.insert(0, "WARNING: graded WITHOUT a sandbox (--unsandboxed): student code ran with your rights")
    for student, grades in students.items():
        absent = student in run.absent
        cells = " ".join(f"{_notebook_cell(g, absent):>18}" for g in grades)
        lateness = run.late.get(student)
        lines.append(f"{inert(student):<{width}} {cells}  {_total_text(student_total(grades, lateness), absent)}")
        if lateness and lateness.late:
            lines.append(f"{'':<{width}}   - {describe(lateness)} "
                         f"(submitted {lateness.submitted_at}, due {lateness.due})")
        for grade in grades if not absent else ():
            if not grade.graded:
                lines.append(f"{'':<{width}}   - {grade.notebook}: {grade.status}")
            lines.extend(f"{'':<{width}}   - {p}" for p in grade.problems[:REASONS_SHOWN])
            if len(grade.problems) > REASONS_SHOWN:
                lines.append(f"{'':<{width}}   - ... and {len(grade.problems) - REASONS_SHOWN} more reasons for "
                             f"{grade.notebook} in feedback/{student}/{assignment}/index.html")
    if any(student_total(grades).awaiting for grades in students.values()):
        lines.append("(+N TA): N points of written answers await a TA in formgrader (`hwkit lab`, then `hwkit export`)")
    return "\n".join(inert(line) for line in lines)  # reasons quote students' exception messages


def _notebook_cell(grade: NotebookGrade, absent: bool) -> str:
    if absent:
        return "-"
    if not grade.graded:
        return "NOT GRADED"
    awaiting = sum(grade.max_scores[q] for q, s in grade.manual_scores.items() if s is None)
    return f"{grade.total:g}/{grade.max_total - awaiting:g}" + (f" (+{awaiting:g} TA)" if awaiting else "")


def _total_text(total: StudentTotal, absent: bool) -> str:
    """e.g. "66/100 so far: 66/66 automatic; 34 points await a TA", "88/100 (late -6.6)", "0/100 no submission"."""
    if absent:
        return f"0/{total.max_total:g} {NO_SUBMISSION}"
    if total.automatic is None:
        return "NOT GRADED"
    late = f"late -{total.penalty:g}" if total.penalty else ""
    if not total.awaiting:
        return f"{total.total:g}/{total.max_total:g}" + (f" ({late})" if late else "")
    parts = [f"{total.total:g}/{total.max_total:g} so far: {total.automatic:g}/{total.automatic_max:g} automatic"]
    if total.given:
        parts[0] += f" + {total.given:g} by a TA"
    parts.append(f"{total.awaiting:g} points await a TA")
    return "; ".join(parts + ([late] if late else []))


NOT_GRADED = {"color": "#d9d9d9", "hatch": "//", "edgecolor": "#8c8c8c"}  # never drawn as 0: grey and hatched


def write_summary_figure(run: GradeRun, path: Path) -> Path:
    """A PNG beside grades-<assignment>.csv: `summary_figure`."""
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
    for row, (_maximum, fractions, waiting) in enumerate(questions.values()):
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
