"""The class report: reports/<assignment>/index.html, one self-contained page (inline CSS, figures embedded as
data URIs, nothing fetched from a network) with the per-question statistics, the common mistakes, the exceptions,
the written answers and the similar pairs of code; and a CSV per view beside it (questions.csv, mistakes.csv,
exceptions.csv, pairs.csv). Written by `hwkit report` and at the end of every `hwkit grade`.

The numbers are class_stats.py's (scores from the gradebook), the pairs similarity.py's. Everything students
control (ids, causes that quote their output, exception messages, code) goes through jinja2's autoescape; the
highlighted code is escaped by copydetect before its marks are added.
"""
from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .class_stats import ClassStats, class_stats
from .course import Course
from .similarity import Similarity, SimilaritySettings, compare, notebooks_code

TEMPLATES = Path(__file__).parent / "templates" / "class_report"
PAIRS_SHOWN = 30  # side-by-side views on the page (pairs.csv lists every pair)


@dataclass(frozen=True)
class ClassReport:
    assignment: str
    stats: ClassStats
    similarity: Similarity


def report_folder(course: Course) -> Path:
    return course.root / "reports" / course.assignment


def build_report(course: Course, settings: SimilaritySettings | None = None) -> ClassReport:
    stats = class_stats(course)
    return ClassReport(course.assignment, stats, compare(student_code(course, stats.students), template_code(course),
                                                         settings or SimilaritySettings()))


def student_code(course: Course, students: list[str]) -> dict[str, str]:
    """student -> the code solution cells of their autograded notebooks (what nbgrader graded)."""
    codes = {}
    for student in students:
        notebooks = list((course.autograded / student / course.assignment).glob("*.ipynb"))
        if notebooks:
            codes[student] = notebooks_code(notebooks)
    return codes


def template_code(course: Course) -> str:
    """What the release gives in the solution cells (stubs, signatures, docstrings): subtracted from every student's."""
    return notebooks_code(list(course.release.glob("*.ipynb")))


def write_report(course: Course, settings: SimilaritySettings | None = None) -> Path:
    """reports/<assignment>/index.html and its CSVs; the page's path."""
    report = build_report(course, settings)
    folder = report_folder(course)
    folder.mkdir(parents=True, exist_ok=True)
    write_csvs(report, folder)
    page = folder / "index.html"
    page.write_text(render(report))
    return page


def render(report: ClassReport) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    environment.filters["num"] = _num
    environment.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.0f} %"
    similarity = report.similarity
    return environment.get_template("index.html.j2").render(
        assignment=report.assignment, stats=report.stats, similarity=similarity, shown=similarity.pairs[:PAIRS_SHOWN],
        marked=lambda html: Markup(html),  # copydetect escaped the code; only its <mark> tags are markup
        distribution=_png(_distribution(report.stats)), questions_figure=_png(_questions(report.stats)))


def write_csvs(report: ClassReport, folder: Path) -> None:
    stats = report.stats
    _csv(folder / "questions.csv", ["question", "points", "autograded", "graded", "not_graded", "mean",
                                    "full_marks_share", "discrimination", "median_seconds", "slowest_seconds",
                                    "slowest_student"],
         [[q.question, _num(q.points), q.auto, q.graded, q.not_graded, _num(q.mean), _num(q.full_marks),
           _num(q.discrimination), _num(q.median_seconds), _num(q.slowest_seconds), q.slowest_student]
          for q in stats.questions])
    _csv(folder / "mistakes.csv", ["question", "cause", "students", "student_ids", "example_case"],
         [[*g.key, g.count, " ".join(g.students), g.example] for g in stats.mistakes])
    _csv(folder / "exceptions.csv", ["type", "where", "line", "students", "student_ids", "example_message"],
         [[*g.key, g.count, " ".join(g.students), g.example] for g in stats.exceptions])
    _csv(folder / "pairs.csv", ["rank", "student_a", "student_b", "share_a", "share_b"],
         [[rank, p.first, p.second, _num(p.share_first), _num(p.share_second)]
          for rank, p in enumerate(report.similarity.pairs, 1)])


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _num(value: float | None) -> str:
    return "" if value is None else f"{round(value, 3):g}"


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _distribution(stats: ClassStats) -> Figure:
    figure = Figure(figsize=(6, 3.4))
    axes = figure.subplots()
    totals = list(stats.totals.values())
    axes.hist(totals, bins=min(20, max(5, len(totals))), range=(0, stats.max_total or 1), color="#4c72b0",
              edgecolor="white")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(f"points graded so far (of {stats.max_total:g}; written answers waiting count 0)")
    axes.set_ylabel("students")
    axes.set_title(f"Score distribution ({len(totals)} students with every autograded question graded)")
    figure.tight_layout()
    return figure


def _questions(stats: ClassStats) -> Figure:
    questions = [q for q in stats.questions if q.mean is not None]
    figure = Figure(figsize=(6, max(2.5, 0.3 * len(questions) + 1)))
    axes = figure.subplots()
    rows = range(len(questions))
    axes.barh(rows, [100 * q.mean / q.points for q in questions], color="#55a868", label="mean, % of points")
    axes.barh(rows, [100 * q.full_marks for q in questions], height=0.3, color="#333333", label="share with full marks")
    axes.set_yticks(rows, [f"{q.question} ({q.points:g})" for q in questions], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("% (students graded)")
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure
