"""Benchmark: the class report (`hwkit report`) of a synthetic Homework 1 class of 2,000 students.

    .venv/bin/python benchmarks/report_benchmark.py [--students 2000] [--seed 0]

Builds, in a scratch copy of the course (not timed): a gradebook with every student's submission of the four
notebooks (nbgrader's model objects), each student's autograded notebooks whose solution cells
are the instructor's answers with random edits (lines dropped, swapped, changed, added: no two students alike),
three planted copies (another student's code with renamed variables and reordered cells), and a grading cache
with diagnoses, exceptions and per-question times. Then runs the steps of `write_report` (what `hwkit report`
runs), timing each (wall and CPU seconds, the fingerprinting processes included), and checks the planted copies
are the three most similar pairs. Prints the figures; the goal is under a minute for 2,000 students on the
2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hwkit.assignment import load as load_assignment  # noqa: E402
from hwkit.cache import cache_folder  # noqa: E402
from hwkit.class_report import (  # noqa: E402
    ClassReport,
    render,
    report_folder,
    student_code,
    template_code,
    write_csvs,
)
from hwkit.class_stats import class_stats, gradebook_scores  # noqa: E402
from hwkit.course import Course, copy_course_files  # noqa: E402
from hwkit.results import CodeError, Diagnosis, NotebookGrade  # noqa: E402
from hwkit.similarity import compare  # noqa: E402

COPIES = 3
CAUSES = ["dW1 is m = 3 times too large: did you average over the batch?", "wrong sign", "shape (4, 1) is not (1, 4)"]


def solutions(course: Course) -> dict[str, list[str]]:
    """notebook -> the instructor's solution cells, without the solution markers."""
    found = {}
    for path in sorted(course.source.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        cells = [c for c in cells if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")]
        found[path.name] = ["\n".join(line for line in "".join(c["source"]).splitlines()
                                      if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
                            for c in cells]
    return found


def vary(code: str, rng: random.Random) -> str:
    """The answer with a few random edits of the kind students make."""
    lines = code.splitlines()
    for _ in range(rng.randint(2, 6)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        indent = re.match(r"\s*", lines[i]).group(0)
        edit = rng.random()
        if edit < 0.3:
            lines.insert(i, f"{indent}tmp_{rng.randrange(10**6)} = {rng.random():.4f} * {rng.randrange(100)} + "
                            f"len(str({rng.randrange(10**4)}))")
        elif edit < 0.5 and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif edit < 0.7:
            lines[i] = re.sub(r"\d+(\.\d+)?", lambda _: str(rng.randrange(1, 999)), lines[i])
        else:
            lines.insert(i, f"{indent}# step {rng.randrange(100)}: {' '.join(rng.sample(CAUSES, 1))}")
    return "\n".join(lines)


def renamed(code: str, rng: random.Random) -> str:
    names = sorted(set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*=(?!=)", code)))
    for name in names:
        code = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(100)}x", code)
    return code


def build(root: Path, students: int, seed: int) -> tuple[Course, list[tuple[str, str]]]:
    from nbgrader.api import Grade, Gradebook, Student, SubmittedAssignment, SubmittedNotebook

    copy_course_files(REPO, root)
    course = Course.at(root, "hw1")
    model = load_assignment(course)
    answers, rng = solutions(course), random.Random(seed)
    ids = [f"s{i:04d}" for i in range(students)]
    copies = [(ids[i], ids[students - 1 - i]) for i in range(COPIES)]  # (original, copier)
    codes: dict[str, dict[str, list[str]]] = {}
    for student in ids:
        codes[student] = {nb: [vary(cell, rng) for cell in cells] for nb, cells in answers.items()}
    for original, copier in copies:
        codes[copier] = {nb: list(reversed([renamed(cell, rng) for cell in cells]))
                         for nb, cells in codes[original].items()}
    for student in ids:
        for nb, cells in codes[student].items():
            release = json.loads((course.release / nb).read_text())
            slots = [c for c in release["cells"] if c["cell_type"] == "code"
                     and c["metadata"].get("nbgrader", {}).get("solution")]
            for slot, code in zip(slots, cells):
                slot["source"] = code
            folder = course.autograded / student / "hw1"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / nb).write_text(json.dumps(release))
    started = time.monotonic()
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook, gradebook.db.no_autoflush:
        gradebook.update_or_create_assignment("hw1")
        for nb in model.notebooks:
            gradebook.update_or_create_notebook(nb.stem, "hw1")
            for q in nb.questions:
                gradebook.update_or_create_grade_cell(q.id, nb.stem, "hw1", max_score=q.points,
                                                      cell_type="code" if q.auto else "markdown")
        assignment = gradebook.find_assignment("hw1")
        manual = {q for nb in model.notebooks for q in nb.manual}
        for student in ids:  # (autoflush off: one commit writes everything)
            submitted = SubmittedAssignment(assignment=assignment, student=Student(id=student))
            for notebook in assignment.notebooks:
                graded = SubmittedNotebook(assignment=submitted, notebook=notebook)
                for cell in notebook.grade_cells:
                    if cell.name in manual:
                        waiting = rng.random() < 0.3
                        Grade(cell=cell, notebook=graded, needs_manual_grade=waiting,
                              manual_score=None if waiting else float(rng.randrange(int(cell.max_score) + 1)))
                    else:
                        Grade(cell=cell, notebook=graded, needs_manual_grade=False,
                              auto_score=rng.choice([0.0, cell.max_score, cell.max_score]))
            gradebook.db.add(submitted)
        gradebook.db.commit()
    print(f"setup: gradebook of {students} students in {time.monotonic() - started:.0f} s (not timed)")
    folder = cache_folder(course)
    folder.mkdir(parents=True)
    for student in ids:
        grades = []
        for nb in model.notebooks:
            failed = [q.id for q in nb.auto if rng.random() < 0.2]
            grades.append(NotebookGrade(student, nb.name, {}, nb.max_scores,
                                        diagnoses=[Diagnosis(q, "public case 1", rng.choice(CAUSES)) for q in failed],
                                        errors=[CodeError("#3", "KeyError", 2, "KeyError: 'W1'")] if failed else []))
        timings = {q.id: rng.uniform(0.05, 2.0) for nb in model.notebooks for q in nb.auto}
        (folder / f"{student}.json").write_text(json.dumps({"key": "", "grades": [asdict(g) for g in grades],
                                                            "timings": timings}))
    return course, copies


class Clock:
    """Wall and CPU seconds (this process and its finished children: the fingerprinting processes) per lap."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.monotonic(), self._cpu()

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.monotonic(), self._cpu()
        lap = wall - self.wall, cpu - self.cpu
        self.wall, self.cpu = wall, cpu
        return lap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hwkit-report-bench-") as tmp:
        course, copies = build(Path(tmp) / "course", args.students, args.seed)
        # write_report's steps (class_report.py), one lap each
        steps, clock = {}, Clock()
        scores = gradebook_scores(course)
        steps["gradebook"] = clock.lap()
        stats = class_stats(course, scores)
        steps["cache + statistics"] = clock.lap()
        codes = student_code(course, stats.students)
        template = template_code(course)
        steps["reading the solution cells"] = clock.lap()
        similarity = compare(codes, template)
        steps["similarity"] = clock.lap()
        report = ClassReport(course.assignment, stats, similarity)
        folder = report_folder(course)
        folder.mkdir(parents=True, exist_ok=True)
        write_csvs(report, folder)
        page = folder / "index.html"
        page.write_text(render(report))
        steps["page, figures and CSVs"] = clock.lap()
        for step, (seconds, busy) in steps.items():
            print(f"  {step:<28} {seconds:6.1f} s ({busy:.1f} s of CPU)")
        wall, cpu = (sum(lap[i] for lap in steps.values()) for i in (0, 1))
        print(f"  similarity: {similarity.students} students, {similarity.candidates} candidate pairs of "
              f"{similarity.students * (similarity.students - 1) // 2}, {similarity.compared} compared exactly, "
              f"{len(similarity.pairs)} listed")
        print(f"hwkit report, {args.students} students: {wall:.1f} s, {cpu:.1f} s of CPU (all processes) on "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {page.stat().st_size / 1e6:.1f} MB page")
        top = [{p.first, p.second} for p in similarity.pairs[:COPIES]]
        found = sum(set(pair) in top for pair in copies)
        print(f"planted copies among the {COPIES} most similar pairs: {found} of {COPIES}")
        return 0 if found == COPIES else 1


if __name__ == "__main__":
    sys.exit(main())
