"""Formgrader cannot undo hwkit: its generate, release, collect, autograde and feedback actions are
refused at the server, with a note that names the hwkit command that does it (a Jupyter server
extension that `hwkit lab` loads).

Each of those actions runs an nbgrader app inside the TA's server and would bypass hwkit: "Generate"
rebuilds release/ with nbgrader alone (deleting the Otter tests and requirements `hwkit build` writes,
unverified), "Autograde" runs a student's notebook unsandboxed in the TA's server and overwrites the
judge's scores in the gradebook, "Generate feedback" replaces hwkit's feedback pages with nbgrader's,
and release/collect use nbgrader's exchange, which this course does not (students hand in through the
LMS). So this extension puts its own handlers for those API routes in front of formgrader's (tornado
takes the first rule that matches): a direct API call is refused as a click is, before formgrader's
handler runs. The answer keeps formgrader's own protocol (HTTP 200, `{"success": false, "log": note}`),
so its pages show the note in their error dialog; formgrader's Manage Assignments and Submissions pages
also carry the note as a banner. Manual grading (scores, comments, flags) is untouched: it is what
`hwkit lab` is for, and `hwkit export` reads it from the gradebook.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nbgrader.server_extensions.formgrader.base import BaseApiHandler, check_xsrf
from tornado import web
from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

NOTE_ID = "hwkit-note"


@dataclass(frozen=True)
class Refused:
    """One formgrader action: its API route (under /formgrader/api/), why hwkit refuses it, what to run."""

    action: str
    route: str
    why: str
    instead: str

    def note(self, assignment: str) -> str:
        instead = self.instead.format(assignment=assignment)
        return f"hwkit refuses formgrader's {self.action}: {self.why}. Instead, {instead}."


BUILD = "run `hwkit build --assignment {assignment}` in the course folder"
GRADE = ("run `hwkit grade --assignment {assignment}` in the course folder (sandboxed and judged; "
         "`--archive FILE` reads an LMS download)")
FEEDBACK = ("run `hwkit release-feedback --assignment {assignment}` in the course folder (one zip per student, "
            "to upload to the LMS)")
EXCHANGE = "this course hands out and collects through the LMS, not through nbgrader's exchange"
REFUSED = (
    Refused("generate", r"assignment/([^/]+)/assign",
            "nbgrader alone would rebuild release/ without the Otter tests and requirements hwkit writes, unverified",
            BUILD),
    Refused("release", r"assignment/([^/]+)/release", EXCHANGE,
            BUILD + " and hand out release/{assignment}/ in the LMS"),
    Refused("unrelease", r"assignment/([^/]+)/unrelease", EXCHANGE,
            "withdraw release/{assignment}/ in the LMS (`hwkit build --assignment {assignment}` rebuilds it)"),
    Refused("collect", r"assignment/([^/]+)/collect", EXCHANGE, GRADE),
    Refused("autograde", r"submission/([^/]+)/([^/]+)/autograde",
            "it would run the student's notebook unsandboxed in this server and overwrite the judge's scores", GRADE),
    Refused("generate feedback", r"assignment/([^/]+)/generate_feedback",
            "it would replace hwkit's feedback pages (the judge's reasons) with nbgrader's", FEEDBACK),
    Refused("generate feedback", r"assignment/([^/]+)/([^/]+)/generate_feedback",
            "it would replace hwkit's feedback pages (the judge's reasons) with nbgrader's", FEEDBACK),
    Refused("release feedback", r"assignment/([^/]+)/release_feedback", EXCHANGE, FEEDBACK),
    Refused("release feedback", r"assignment/([^/]+)/([^/]+)/release_feedback", EXCHANGE, FEEDBACK),
)


class RefusedHandler(BaseApiHandler):
    """Answers one of formgrader's actions with hwkit's note instead of running it."""

    def initialize(self, refused: Refused) -> None:
        self.refused = refused

    @web.authenticated
    @check_xsrf
    def post(self, assignment: str, *rest: str) -> None:
        note = self.refused.note(assignment)
        self.log.warning("%s", note)
        # formgrader's pages show "log" as Log Output (and "error", here none, as a Traceback)
        self.write(json.dumps({"success": False, "log": note, "error": None, "refused_by": "hwkit"}))


# --- the banner on formgrader's management pages ------------------------------------------------

MANAGEMENT_PAGE = re.compile(r"/formgrader/(manage_assignments|manage_submissions/[^/]+)/?$")
ANCHOR = "</ol>"  # the end of the breadcrumb, the first list of those pages' body
BANNER = ('<div class="alert alert-info" id="' + NOTE_ID + '">In this course hwkit builds, grades and hands out: '
          "formgrader's Generate, Release, Collect, Autograde and Feedback buttons are refused. Build with "
          "<code>hwkit build</code>, grade with <code>hwkit grade</code> (sandboxed, judged), grade written answers "
          "here (Manual Grading), then <code>hwkit export</code> and <code>hwkit release-feedback</code>.</div>")


class ManagementPageNote(OutputTransform):
    """Adds BANNER under the breadcrumb of formgrader's Manage Assignments and Submissions pages."""

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self._applies = request.method == "GET" and bool(MANAGEMENT_PAGE.search(request.path))

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        if self._applies and finishing and status_code == 200 and headers.get("Content-Type", "").startswith(
                "text/html"):
            page = chunk.decode("utf-8", "replace")
            if ANCHOR in page:
                chunk = page.replace(ANCHOR, ANCHOR + BANNER, 1).encode()
                headers["Content-Length"] = str(len(chunk))
        return status_code, headers, chunk


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "hwkit.formgrader_guard"}]


def _load_jupyter_server_extension(serverapp) -> None:
    webapp = serverapp.web_app
    base = webapp.settings["base_url"].rstrip("/")
    handlers = [(f"{base}/formgrader/api/{refused.route}", RefusedHandler, {"refused": refused})
                for refused in REFUSED]
    webapp.add_handlers(".*$", handlers)  # tornado appends the rule before its catch-all: move it in front of
    rules = webapp.default_router.rules   # every other one, formgrader's included, whichever loaded first
    rules.insert(0, rules.pop(-2))
    webapp.transforms.insert(0, ManagementPageNote)
    serverapp.log.info("hwkit.formgrader_guard: %d formgrader actions refused", len(REFUSED))

