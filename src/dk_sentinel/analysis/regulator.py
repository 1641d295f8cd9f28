"""The regulator's report for one jurisdiction and period, as a file (CSV, JSON or HTML).

What a compliance lead hands a regulator: the triggers that crossed in the period (from
``ops.trigger_firings``, dated when they crossed), the cases opened, open, overdue and closed
(with their reasons), contact attempts by result, suspensions, the time from a case's opening to
its first action (median and p90), and UKGC SR 3.4.3's count of customer interactions next to
the size of the book (players who bet in the period).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dk_sentinel.analysis.reporting import median_and_p90
from dk_sentinel.errors import UsageError
from dk_sentinel.interventions.cases import list_cases
from dk_sentinel.models import Document
from dk_sentinel.warehouse import Warehouse

ReportFormat = Literal["csv", "json", "html"]


class ClosedCase(Document):
    """A case closed in the period, with the reason the regulator reads."""

    case_id: str
    player_id: str
    triggers: list[str]
    closed_at: datetime
    close_reason: str | None


class RegulatorReport(Document):
    """One jurisdiction over one period."""

    jurisdiction: str
    since: datetime
    until: datetime
    generated_at: datetime
    triggers_crossed: dict[str, int] = Field(description="Crossings in the period, by code")
    cases_opened: int
    cases_open_at_end: int
    cases_overdue_at_end: int = Field(description="Open at the end and past their due time")
    cases_closed: list[ClosedCase]
    contacts_by_result: dict[str, int]
    suspensions: int
    first_action_hours_median: float | None = Field(
        description="From a case's opening to its first contact attempt or intervention"
    )
    first_action_hours_p90: float | None
    customer_interactions: int = Field(
        description="SR 3.4.3: contact attempts on cases plus interventions, in the period"
    )
    players_in_book: int = Field(description="Players of the jurisdiction who bet in the period")

    def rows(self) -> list[tuple[str, str, str]]:
        """The report as (section, item, value) rows: one shape for CSV and HTML."""
        rows: list[tuple[str, str, str]] = [
            ("period", "jurisdiction", self.jurisdiction),
            ("period", "since", f"{self.since:%Y-%m-%dT%H:%M:%SZ}"),
            ("period", "until", f"{self.until:%Y-%m-%dT%H:%M:%SZ}"),
            ("period", "generated_at", f"{self.generated_at:%Y-%m-%dT%H:%M:%SZ}"),
        ]
        rows += [("triggers_crossed", code, str(n)) for code, n in self.triggers_crossed.items()]
        rows += [
            ("cases", "opened", str(self.cases_opened)),
            ("cases", "open_at_end", str(self.cases_open_at_end)),
            ("cases", "overdue_at_end", str(self.cases_overdue_at_end)),
            ("cases", "closed", str(len(self.cases_closed))),
        ]
        rows += [("contacts", result, str(n)) for result, n in self.contacts_by_result.items()]
        rows += [
            ("actions", "suspensions", str(self.suspensions)),
            ("actions", "first_action_hours_median", _num(self.first_action_hours_median)),
            ("actions", "first_action_hours_p90", _num(self.first_action_hours_p90)),
            ("sr_3_4_3", "customer_interactions", str(self.customer_interactions)),
            ("sr_3_4_3", "players_in_book", str(self.players_in_book)),
        ]
        rows += [
            ("closed_case", c.case_id,
             f"{c.player_id} {','.join(c.triggers)} closed {c.closed_at:%Y-%m-%dT%H:%M:%SZ}: "
             f"{c.close_reason or ''}")
            for c in self.cases_closed
        ]  # fmt: skip
        return rows


def regulator_report(
    wh: Warehouse, jurisdiction: str, since: datetime, until: datetime, now: datetime
) -> RegulatorReport:
    """Build the report of ``jurisdiction`` for the period [since, until).

    Raises:
        UsageError: Not a two-letter jurisdiction, or the period is empty.
    """
    if len(jurisdiction) != 2 or not jurisdiction.isalpha() or not jurisdiction.isupper():
        raise UsageError(f"'{jurisdiction}' is not a two-letter jurisdiction", "e.g. NJ")
    if until <= since:
        raise UsageError("the period is empty: --until must be after --since")

    def within(moment: datetime | None) -> bool:
        return moment is not None and since <= moment < until

    crossed: dict[str, int] = {}
    for code, n in wh.query(
        "select code, count(*) from {ops}.trigger_firings where right(player_id, 2) = ? "
        "and crossed_at >= ? and crossed_at < ? group by code order by code",
        [jurisdiction, since, until],
    ):
        crossed[code] = int(n)
    cases = list_cases(wh, until, jurisdiction=jurisdiction)
    events = wh.query_dicts(
        "select e.case_id, e.event_type, e.occurred_at, e.detail from {ops}.case_events e "
        "where e.occurred_at < ? and right(e.player_id, 2) = ? order by e.occurred_at",
        [until, jurisdiction],
    )
    interventions = wh.query_dicts(
        "select player_id, created_at from {ops}.interventions where right(player_id, 2) = ? "
        "and created_at < ?",
        [jurisdiction, until],
    )
    first_action: dict[str, datetime] = {}
    contacts: dict[str, int] = {}
    suspensions = 0
    for e in events:
        if e["event_type"] == "contact":
            first_action.setdefault(e["case_id"], e["occurred_at"])
            if within(e["occurred_at"]):
                result = json.loads(e["detail"] or "{}").get("result", "unknown")
                contacts[result] = contacts.get(result, 0) + 1
        elif e["event_type"] == "suspension_requested" and within(e["occurred_at"]):
            suspensions += 1
    for case in cases:  # an intervention on the player counts as the case's first action
        later = [
            i["created_at"]
            for i in interventions
            if i["player_id"] == case.player_id and i["created_at"] >= case.opened_at
        ]
        if later:
            first = min(later)
            first_action[case.case_id] = min(first_action.get(case.case_id, first), first)
    opened = [c for c in cases if within(c.opened_at)]
    waits = sorted(
        (first_action[c.case_id] - c.opened_at).total_seconds() / 3600
        for c in opened if c.case_id in first_action
    )  # fmt: skip
    open_at_end = [
        c for c in cases if c.opened_at < until and (c.closed_at is None or c.closed_at >= until)
    ]
    players = wh.query(
        "select count(distinct player_id) from {raw}.bets where right(player_id, 2) = ? "
        "and placed_at >= ? and placed_at < ?",
        [jurisdiction, since, until],
    )[0][0]
    return RegulatorReport(
        jurisdiction=jurisdiction,
        since=since,
        until=until,
        generated_at=now,
        triggers_crossed=crossed,
        cases_opened=len(opened),
        cases_open_at_end=len(open_at_end),
        cases_overdue_at_end=sum(1 for c in open_at_end if c.due_at < until and c.state == "open"),
        cases_closed=[
            ClosedCase(
                case_id=c.case_id,
                player_id=c.player_id,
                triggers=c.triggers,
                closed_at=c.closed_at,
                close_reason=c.close_reason,
            )
            for c in cases
            if c.closed_at is not None and within(c.closed_at)
        ],
        contacts_by_result=dict(sorted(contacts.items())),
        suspensions=suspensions,
        first_action_hours_median=median_and_p90(waits)[0],
        first_action_hours_p90=median_and_p90(waits)[1],
        customer_interactions=sum(contacts.values())
        + sum(1 for i in interventions if within(i["created_at"])),
        players_in_book=int(players or 0),
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def render(report: RegulatorReport, fmt: ReportFormat) -> str:
    """The report as a CSV, JSON or HTML document."""
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("section", "item", "value"))
        writer.writerows(report.rows())
        return out.getvalue()
    import jinja2

    env = jinja2.Environment(autoescape=True)  # every value is escaped
    template = env.from_string(_HTML)
    return template.render(r=report, rows=report.rows())


def write_report(report: RegulatorReport, out: Path) -> Path:
    """Write the report to ``out`` in the format its suffix names (.csv, .json, .html).

    Raises:
        UsageError: Another suffix.
    """
    fmt: Any = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "json", "html"):
        raise UsageError(f"cannot write a report as '{out.suffix}'", "Use .csv, .json or .html.")
    text = render(report, fmt)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # atomic: a reader never sees half a report
    return out


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Responsible gaming report {{ r.jurisdiction }}, {{ r.since.strftime('%Y-%m-%d') }} to {{ r.until.strftime('%Y-%m-%d') }}</title>
<style>body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}</style>
</head><body>
<h1>Responsible gaming report: {{ r.jurisdiction }}</h1>
<p>Period {{ r.since.strftime('%Y-%m-%d %H:%M') }} to {{ r.until.strftime('%Y-%m-%d %H:%M') }} UTC; generated {{ r.generated_at.strftime('%Y-%m-%d %H:%M') }} UTC.</p>
<table><thead><tr><th scope="col">Section</th><th scope="col">Item</th><th scope="col">Value</th></tr></thead>
<tbody>{% for section, item, value in rows %}<tr><td>{{ section }}</td><td>{{ item }}</td><td>{{ value }}</td></tr>{% endfor %}</tbody></table>
</body></html>
"""  # noqa: E501
