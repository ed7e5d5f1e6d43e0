"""Canvas's "Download Submissions" zip as Canvas writes it: whose file it is, which notebook, which upload
is the latest, and when it was handed in.

Canvas names every file `<name>[_LATE]_<user id>_<attachment id>_<file>`, e.g.
    smithjane_LATE_48213_1175532_Lab-1.ipynb
* `<name>`: the student's last and first name, lower case, without spaces or punctuation (`anon` when
  grading is anonymous). Two students may share it, so it is only ever shown, never trusted.
* `<user id>`: Canvas's user id, matched to the roster's `lms_user_id` (`hwkit roster`). A user the roster
  does not know is named in a note and not graded: the grade would belong to nobody (add them, grade again).
* `<attachment id>`: grows with every upload, so of two files that are the same notebook the higher is
  the later upload (the zip holds each student's latest submission only, but it may hold several files).
* `<file>`: the name the student uploaded. Canvas adds `-1`, `-2` ... before the extension when the student
  had uploaded a file of that name before (a resubmission): `Lab-1.ipynb` is `Lab.ipynb`.
* `_LATE`: Canvas's own mark, handed in after the student's due date in Canvas (extensions included).

When it was handed in (the zip holds no time), in this order (docs/lms.md):
1. the exact `submitted_at` from a submission-times file the LMS exports (`--submission-times`: the JSON
   list Canvas's Submissions API returns, or a CSV with `user_id` and `submitted_at` columns);
2. else a file marked `_LATE` counts as handed in one second after the course's due date, i.e. one
   started day late, the smallest penalty the policy gives (the feedback says so);
3. else on time: no timestamp, no penalty.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

CANVAS_NAME = re.compile(r"^(?P<name>\w+?)(?P<late>_LATE)?_(?P<user>[0-9]+)_(?P<attachment>[0-9]+)_(?P<file>.+)$")
RESUBMITTED = re.compile(r"^(?P<stem>.+)-[0-9]+(?P<ext>\.[^.]+)$")  # Lab-1.ipynb


class TimesError(ValueError):
    """A submission-times file hwkit cannot read; the message says what to fix."""


@dataclass(frozen=True)
class CanvasFile:
    """What a Canvas file name says."""

    name: str  # Canvas's "lastfirst": shown, never trusted
    late: bool
    user: str  # Canvas user id
    attachment: int
    file: str  # the notebook it is (a resubmission's `-1` removed when that names an expected notebook)


def read_canvas_name(filename: str, expected: set[str]) -> CanvasFile | None:
    match = CANVAS_NAME.match(filename)
    if not match:
        return None
    file = match["file"]
    again = RESUBMITTED.match(file)
    if file not in expected and again and again["stem"] + again["ext"] in expected:
        file = again["stem"] + again["ext"]
    return CanvasFile(match["name"], bool(match["late"]), match["user"], int(match["attachment"]), file)


def handed_in(user: str, late: bool, due: datetime | None, times: dict[str, datetime]) -> tuple[str | None, str]:
    """(timestamp in UTC for timestamp.txt, or None; a note for the student's feedback, or "") by the rule above."""
    if user in times:
        return _text(times[user]), ""
    if not late:
        return None, ""
    if due is None:
        return None, "Canvas marked the submission LATE, but the course sets no due date for it: no late penalty"
    return _text(due + timedelta(seconds=1)), ("Canvas marked the submission LATE and its exact time is not known: "
                                               "it counts as one started day late (hwkit's rule for Canvas's mark)")


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def read_submission_times(path: Path) -> dict[str, datetime]:
    """Canvas user id -> when the submission was handed in (UTC), from the JSON list of Canvas's Submissions API
    (`user_id`, `submitted_at`) or a CSV with those columns; TimesError naming every bad entry."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        rows = json.loads(text) if path.suffix.lower() == ".json" else list(csv.DictReader(text.splitlines()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TimesError(f"cannot read {path} ({error}): give the JSON Canvas's Submissions API returns, or a CSV "
                         "with user_id and submitted_at columns") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise TimesError(f"{path} is not a list of submissions: give the JSON list Canvas's Submissions API returns")
    times, bad = {}, []
    for number, row in enumerate(rows, 1):
        user, stamp = str(row.get("user_id") or "").strip(), row.get("submitted_at")
        if not stamp:  # nothing handed in (Canvas lists every student)
            continue
        try:
            moment = datetime.fromisoformat(str(stamp).strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if not user.isdigit() or moment is None or moment.tzinfo is None:
            bad.append(str(number))
            continue
        times[user] = moment.astimezone(UTC).replace(tzinfo=None)
    if bad:
        raise TimesError(f"{path}: entries {', '.join(bad)} need a numeric user_id and a submitted_at with its UTC "
                         "offset (e.g. 2025-03-08T15:59:59Z)")
    return times
