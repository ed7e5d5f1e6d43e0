"""The hidden cases of each question, as `hwkit build` collects them from the hidden test blocks of the instructor
notebooks into hidden_cases.json (generated: edit the cases in the notebooks, then run `hwkit build`)."""
from __future__ import annotations

import json
from pathlib import Path

FILE = Path(__file__).with_name("hidden_cases.json")


def hidden_cases(prefix: str) -> dict[str, list[dict]]:
    """{question: [settings, ...]} of the questions whose name starts with `prefix` (one notebook's)."""
    if not FILE.is_file():
        raise FileNotFoundError(f"{FILE} is missing: run `hwkit build`, which writes it from the instructor "
                                "notebooks' hidden test blocks.")
    return {q: cases for q, cases in json.loads(FILE.read_text()).items() if q.startswith(prefix)}
