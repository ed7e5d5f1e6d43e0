"""Code similarity across a class, for a person to read (never a verdict): the code each student wrote (the
code solution cells of their notebooks, with the release's template subtracted) compared with copydetect, which
implements MOSS's winnowing: names become placeholders and whitespace and comments drop out before fingerprinting,
so renamed variables, reformatting and reordered functions do not hide a copy.

Scale: each student's code is fingerprinted once, tokenized by the standard library (`filter_python`: copydetect's
pygments lexer is ten times slower) into copydetect's filtered form, on every core for a large class (forked
processes: copydetect hashes with Python's `hash`, whose seed differs between interpreters). Fingerprints found in
many students' code (more than `SimilaritySettings.common_share` of the class: the fixed template's idioms, the one
obvious way to write a line) are common code, dropped as MOSS drops them; pairs that share rarer fingerprints are
the candidates (an inverted index: never all pairs of notebooks), and only those whose shared fingerprints could
reach the threshold are compared exactly (copydetect's `compare_files`, which also gives the matching spans for the
side-by-side view).
"""
from __future__ import annotations

import builtins
import io
import json
import keyword
import os
import re
import tokenize
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import filter_code, get_token_coverage, highlight_overlap

from .settings import SIMILARITY_THRESHOLD

# A pair is compared exactly when its shared fingerprints are at least this share of the threshold (of the smaller
# fingerprint set): fingerprints sample the code evenly (winnowing), so the shares of code and of fingerprints differ
# little; 0.7 leaves a wide margin.
PREFILTER = 0.7
PARALLEL_FROM = 200  # students per extra process fingerprinting (a process takes a second to start)
DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
BUILTINS = frozenset(dir(builtins))
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
    candidate_max: int = 20  # fingerprints in at most this many students make two students candidates ...
    candidate_shared: int = 2  # ... when they share at least this many of them (one can be a coincidence)
    # Code of one's own (filtered characters, the template removed) below which a student is not compared: a
    # one-line answer in a stub matches every other student's same line, and says nothing.
    min_code: int = 100

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
    candidates: int  # pairs sharing uncommon code
    compared: int  # candidate pairs whose shared fingerprints could reach the threshold, compared exactly
    settings: SimilaritySettings


def solution_code(notebook: dict) -> str:
    """The code solution cells of a notebook (nbformat 4 JSON), in order: what a student writes (markdown answers
    left out)."""
    cells = [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]
    return "\n\n".join(_text(cell.get("source", "")) for cell in cells
                       if cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def notebooks_code(paths: list[Path]) -> str:
    """The solution code of notebooks nbgrader wrote (read as JSON: nbformat's validation would cost seconds per
    hundred notebooks); an unreadable one counts as no code."""
    texts = []
    for path in sorted(paths):
        try:
            texts.append(solution_code(json.loads(path.read_text())))
        except (OSError, ValueError, AttributeError):
            continue
    return "\n\n".join(texts)


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _fingerprint(name: str, code: str, settings: SimilaritySettings, boilerplate: np.ndarray | None = None,
                 window: int | None = None) -> CodeFingerprint:
    """copydetect's fingerprint of `code`, tokenized by `filter_python` (copydetect's own tokenizer, pygments, takes
    ten times as long: two minutes for a class of 2,000), without offsets (`_pair` adds them where needed)."""
    try:
        filtered, offsets = filter_python(code, with_offsets=False)
    except (tokenize.TokenError, SyntaxError):  # not Python (an unfinished string, bad indentation): pygments copes
        filtered, offsets = filter_code(code, name, "python")
    fingerprint = CodeFingerprint(name, settings.noise, window or settings.window, boilerplate, filter=False,
                                  fp=io.StringIO(filtered))
    fingerprint.raw_code, fingerprint.offsets = code, offsets
    return fingerprint


def _fingerprints(codes: dict[str, str], settings: SimilaritySettings,
                  boilerplate: np.ndarray) -> dict[str, CodeFingerprint]:
    """Every student's fingerprint, on every core for a large class (tokenizing is most of the report's time)."""
    students = sorted(codes)
    workers = min(os.cpu_count() or 1, len(students) // PARALLEL_FROM)
    if workers < 2:
        return {s: _fingerprint(f"{s}.py", codes[s], settings, boilerplate) for s in students}
    chunks = [students[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        done = pool.map(_fingerprint_all, [{s: codes[s] for s in chunk} for chunk in chunks],
                        [settings] * workers, [boilerplate] * workers)
        return {s: fingerprint for found in done for s, fingerprint in found.items()}


def _fingerprint_all(codes: dict[str, str], settings: SimilaritySettings,
                     boilerplate: np.ndarray) -> dict[str, CodeFingerprint]:
    return {s: _fingerprint(f"{s}.py", code, settings, boilerplate) for s, code in codes.items()}


def filter_python(code: str, with_offsets: bool = True) -> tuple[str, np.ndarray]:
    """copydetect's `filter_code` for Python with the standard library's tokenizer: the same filtered text (names
    become V, function names F, class names O, strings S; whitespace and comments dropped; keywords, builtins,
    numbers and operators kept; an attribute is a name) and, `with_offsets`, the same offsets (copydetect maps
    matches back to the code with them: needed for the side-by-side view only)."""
    starts = [0] + [m.end() for m in re.finditer("\n", code)] + [len(code)] * 2  # the end marker is past the end
    out: list[str] = []
    length, offset, offsets = 0, 0, [[0, 0]]
    previous_end, previous = 0, ""  # where the last token ended, its text
    for kind, text, (row, column), (end_row, end_column), _ in tokenize.generate_tokens(io.StringIO(code).readline):
        if with_offsets:
            start = starts[row - 1] + column
            if start > previous_end:  # the whitespace between tokens
                offsets.append([length - 1, offset])
                offset += start - previous_end
            previous_end = max(previous_end, starts[end_row - 1] + end_column)
        if kind in DROPPED or not text.strip():
            if with_offsets and text:
                offsets.append([length - 1, offset])
                offset += len(text)
            continue
        placeholder = None
        if kind == tokenize.STRING:
            placeholder = "S"
        elif kind == tokenize.NAME and not keyword.iskeyword(text) and (text not in BUILTINS or previous == "."):
            placeholder = {"def": "F", "class": "O"}.get(previous, "V")
        previous = text
        if placeholder is None:
            out.append(text)
            length += len(text)
            continue
        out.append(placeholder)
        length += 1
        if with_offsets:
            offsets.append([length - 1, offset])
            offset += len(text) - 1
    return "".join(out), np.array(offsets if with_offsets else [])


def compare(codes: dict[str, str], template: str, settings: SimilaritySettings | None = None) -> Similarity:
    """The pairs of `codes` (student -> their code) whose match reaches the threshold, most similar first."""
    settings = settings or SimilaritySettings()
    boilerplate = np.array(sorted(_fingerprint("template.py", template, settings, window=1).hashes), dtype=np.int64)
    prints = _fingerprints(codes, settings, boilerplate)
    students = [s for s in sorted(prints) if prints[s].token_coverage >= settings.min_code]
    owners, hashes = _postings([prints[s] for s in students])
    kept = _drop_common(prints, students, hashes, settings)
    candidates = _candidates(owners[kept], hashes[kept], len(students), settings)
    pairs, compared = [], 0
    for i, j in candidates:
        first, second = prints[students[i]], prints[students[j]]
        if not first.hashes or not second.hashes:
            continue
        # The shared fingerprints bound the shared code: copydetect's exact (and slower) comparison only where
        # they could reach the threshold.
        if len(first.hashes & second.hashes) < PREFILTER * settings.threshold * min(len(first.hashes),
                                                                                      len(second.hashes)):
            continue
        compared += 1
        _, (share_first, share_second), _ = compare_files(first, second)
        if max(share_first, share_second) >= settings.threshold:
            pairs.append((float(share_first), float(share_second), students[i], students[j]))
    pairs.sort(key=lambda p: (-max(p[0], p[1]), p[2], p[3]))
    return Similarity([_pair(prints[a], prints[b], a, b, x, y) for x, y, a, b in pairs],
                      sum(1 for s in students if prints[s].hashes), len(candidates), compared, settings)


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
    """Pairs of students sharing `candidate_shared` fingerprints that at most `candidate_max` students have (an
    inverted index: the cost grows with the pairs that share rare code, not with all pairs)."""
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
    found, shared = np.unique(np.concatenate(codes), return_counts=True)
    return [(int(c // students), int(c % students)) for c in found[shared >= settings.candidate_shared]]


def _pair(first: CodeFingerprint, second: CodeFingerprint, a: str, b: str, share_a: float, share_b: float) -> Pair:
    for fingerprint in (first, second):  # the offsets that map matches back to the code, for these two only
        if not len(fingerprint.offsets):
            fingerprint.offsets = _offsets(fingerprint.raw_code)
    _, _, (slices_a, slices_b) = compare_files(first, second)
    return Pair(a, b, share_a, share_b, _highlight(first.raw_code, slices_a), _highlight(second.raw_code, slices_b))


def _offsets(code: str) -> np.ndarray:
    try:
        return filter_python(code)[1]
    except (tokenize.TokenError, SyntaxError):
        return filter_code(code, "code.py", "python")[1]


def _highlight(code: str, slices: np.ndarray) -> str:
    """The code as HTML (escaped by copydetect's highlight_overlap, through markupsafe), matches marked."""
    marked, _ = highlight_overlap(code, np.asarray(slices, dtype=np.int64), *MARK, escape_html=True)
    return marked
