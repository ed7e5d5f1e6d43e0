"""Code similarity across a class, for a person to read (never a verdict): the code each student wrote (the
code solution cells of their notebooks, with the release's template subtracted) compared with copydetect, which
implements MOSS's winnowing: names become placeholders and whitespace and comments drop out before fingerprinting,
so renamed variables, reformatting and reordered functions do not hide a copy.

Scale: each student's code is fingerprinted once. Fingerprints found in many students' code (more than
`SimilaritySettings.common_share` of the class: the fixed template's idioms, the one obvious way to write a line)
are common code, dropped as MOSS drops them; pairs that share rarer fingerprints are the candidates (an inverted
index: never all pairs of notebooks), and only those are compared exactly (copydetect's `compare_files`, which
also gives the matching spans for the side-by-side view).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import get_token_coverage, highlight_overlap

from .settings import SIMILARITY_THRESHOLD

MARK = ('<mark class="match">', "</mark>")


@dataclass(frozen=True)
class SimilaritySettings:
    """How pairs are found and which are listed (one default each; `hwkit report` sets the threshold)."""

    # Share of a student's own code (after the template and common code are removed) that matches the other's,
    # from which a pair is listed. 0.5: independently written solutions of this course's homework share well under
    # a quarter of their uncommon code (tests/test_class_report.py, benchmarks/report_benchmark.py), a copy with
    # renamed variables and reordered functions nearly all of it.
    threshold: float = SIMILARITY_THRESHOLD
    noise: int = 25  # copydetect's noise threshold: matches shorter than this (filtered characters) are ignored
    guarantee: int = 30  # copydetect's guarantee threshold: matches this long are always found
    common_share: float = 0.1  # a fingerprint in more than this share of the class is common code ...
    common_min: int = 5  # ... and in more than this many students (a small class has no common code)
    candidate_max: int = 20  # fingerprints in at most this many students make two students candidates

    @property
    def window(self) -> int:
        return self.guarantee - self.noise + 1


@dataclass(frozen=True)
class Pair:
    """Two students whose code matches: the share of each one's code found in the other's, and each one's code
    as HTML with the matching spans marked (escaped by copydetect: students' code is text, never markup)."""

    first: str
    second: str
    share_first: float
    share_second: float
    first_html: str = ""
    second_html: str = ""

    @property
    def share(self) -> float:
        return max(self.share_first, self.share_second)


@dataclass(frozen=True)
class Similarity:
    pairs: list[Pair]  # share >= threshold, most similar first
    students: int  # students with code of their own to compare
    compared: int  # candidate pairs compared exactly
    settings: SimilaritySettings


def solution_code(notebook: nbformat.NotebookNode) -> str:
    """The code solution cells of a notebook, in order (what a student writes; markdown answers left out)."""
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code"
                       and cell.metadata.get("nbgrader", {}).get("solution"))


def notebooks_code(paths: list[Path]) -> str:
    return "\n\n".join(solution_code(nbformat.read(path, as_version=4)) for path in sorted(paths))


def _fingerprint(name: str, code: str, settings: SimilaritySettings, boilerplate: np.ndarray | None = None,
                 window: int | None = None) -> CodeFingerprint:
    return CodeFingerprint(name, settings.noise, window or settings.window, boilerplate, language="python",
                           fp=io.StringIO(code))


def compare(codes: dict[str, str], template: str, settings: SimilaritySettings = SimilaritySettings()) -> Similarity:
    """The pairs of `codes` (student -> their code) whose match reaches the threshold, most similar first."""
    boilerplate = np.array(sorted(_fingerprint("template.py", template, settings, window=1).hashes), dtype=np.int64)
    prints = {student: _fingerprint(f"{student}.py", code, settings, boilerplate) for student, code in codes.items()}
    students = [s for s in sorted(prints) if prints[s].hashes]
    owners, hashes = _postings([prints[s] for s in students])
    kept = _drop_common(prints, students, hashes, settings)
    candidates = _candidates(owners[kept], hashes[kept], len(students), settings)
    pairs = []
    for i, j in candidates:
        first, second = prints[students[i]], prints[students[j]]
        if not first.hashes or not second.hashes:
            continue
        _, (share_first, share_second), _ = compare_files(first, second)
        if max(share_first, share_second) >= settings.threshold:
            pairs.append((float(share_first), float(share_second), students[i], students[j]))
    pairs.sort(key=lambda p: (-max(p[0], p[1]), p[2], p[3]))
    return Similarity([_pair(prints[a], prints[b], a, b, x, y) for x, y, a, b in pairs],
                      sum(1 for s in students if prints[s].hashes), len(candidates), settings)


def _postings(prints: list[CodeFingerprint]) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, fingerprint) of every student's fingerprints, sorted by fingerprint."""
    owners = np.concatenate([np.full(len(p.hashes), i, dtype=np.int64) for i, p in enumerate(prints)] or [[]])
    hashes = np.concatenate([np.fromiter(p.hashes, dtype=np.int64, count=len(p.hashes)) for p in prints] or [[]])
    order = np.argsort(hashes, kind="stable")
    return owners[order].astype(np.int64), hashes[order].astype(np.int64)


def _drop_common(prints: dict[str, CodeFingerprint], students: list[str], hashes: np.ndarray,
                 settings: SimilaritySettings) -> np.ndarray:
    """Fingerprints shared by many students leave every student's fingerprint (and its coverage); the postings
    that remain (a mask of `hashes`)."""
    values, counts = np.unique(hashes, return_counts=True)
    common = set(values[counts > max(settings.common_min, settings.common_share * len(students))].tolist())
    if not common:
        return np.ones(len(hashes), dtype=bool)
    for student in students:
        fingerprint = prints[student]
        dropped = fingerprint.hashes & common
        if dropped:
            fingerprint.hashes -= dropped
            for value in dropped:
                fingerprint.hash_idx.pop(value, None)
            fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, fingerprint.k,
                                                            len(fingerprint.filtered_code))
    return ~np.isin(hashes, np.fromiter(common, dtype=np.int64, count=len(common)))


def _candidates(owners: np.ndarray, hashes: np.ndarray, students: int,
                settings: SimilaritySettings) -> list[tuple[int, int]]:
    """Pairs of students sharing a fingerprint that at most `candidate_max` students have (the inverted index)."""
    if not len(hashes):
        return []
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, len(hashes)])
    codes = []
    for start, size in zip(starts[(sizes >= 2) & (sizes <= settings.candidate_max)],
                           sizes[(sizes >= 2) & (sizes <= settings.candidate_max)]):
        group = owners[start:start + size]
        i, j = np.triu_indices(size, 1)
        codes.append(np.minimum(group[i], group[j]) * students + np.maximum(group[i], group[j]))
    if not codes:
        return []
    found = np.unique(np.concatenate(codes))
    return [(int(c // students), int(c % students)) for c in found]


def _pair(first: CodeFingerprint, second: CodeFingerprint, a: str, b: str, share_a: float, share_b: float) -> Pair:
    _, _, (slices_a, slices_b) = compare_files(first, second)
    return Pair(a, b, share_a, share_b, _highlight(first.raw_code, slices_a), _highlight(second.raw_code, slices_b))


def _highlight(code: str, slices: np.ndarray) -> str:
    """The code as HTML (escaped by copydetect's highlight_overlap, through markupsafe), matches marked."""
    marked, _ = highlight_overlap(code, np.asarray(slices, dtype=np.int64), *MARK, escape_html=True)
    return marked
