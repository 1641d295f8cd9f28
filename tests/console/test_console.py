"""The analysts' console through FastAPI's TestClient: every page and form, roles, CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import AS_OF
from dk_sentinel.config import Settings
from dk_sentinel.models import utcnow
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel

STATIC = Path(__file__).parents[2] / "src" / "dk_sentinel" / "console" / "static"


class Console:
    """A browser-like client: keys by role, sign-in, and the CSRF token of the last page."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys
        self.app: Sentinel = client.app.state.sentinel.runtime.app  # type: ignore[attr-defined]

    def sign_in(self, role: str = "analyst", next_path: str = "/queue") -> Any:
        form = self.client.get(f"/signin?next={next_path}")
        return self.client.post(
            "/signin", follow_redirects=False,
            data={"api_key": self.keys[role], "csrf_token": _field(form.text, "csrf_token"),
                  "next": next_path},
        )  # fmt: skip

    def get(self, path: str) -> Any:
        return self.client.get(path, follow_redirects=False)

    def post(self, path: str, page: str, **data: str) -> Any:
        return self.client.post(
            path, follow_redirects=False, data={"csrf_token": _field(page, "csrf_token"), **data}
        )


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


def _alert(html: str) -> str:
    match = re.search(r'role="alert"[^>]*>([^<]+)<', html)
    return match.group(1) if match else ""


@pytest.fixture
def console(scored: Settings) -> Iterator[Console]:
    app = Sentinel(scored, clock=lambda: AS_OF)
    keys = {role: app.keys.create(f"{role}01", role).api_key
            for role in ("viewer", "analyst", "admin")}  # fmt: skip
    api = create_app(scored)
    api.state.sentinel.runtime.app.clock = lambda: AS_OF  # SLAs and cases on the data's clock
    with TestClient(api) as client:
        yield Console(client, keys)


def _top_players(page: str) -> list[str]:
    return re.findall(r'<a href="/players/(PLR_[0-9]+_[A-Z]{2})" data-row-link>', page)


def test_no_key_goes_to_sign_in_and_back(console: Console) -> None:
    first = console.get("/players/PLR_1234_MA?explain=true")
    assert first.status_code == 303
    assert first.headers["location"] == "/signin?next=%2Fplayers%2FPLR_1234_MA%3Fexplain%3Dtrue"
    page = console.get("/signin?next=/queue")
    assert page.status_code == 200 and '<label for="api_key">API key</label>' in page.text
    wrong = console.client.post(
        "/signin",
        data={
            "api_key": "sk_00_nope",
            "csrf_token": _field(page.text, "csrf_token"),
            "next": "/queue",
        },
    )
    assert wrong.status_code == 401 and "not valid" in _alert(wrong.text)
    signed = console.sign_in(next_path="/cases")
    assert signed.status_code == 303 and signed.headers["location"] == "/cases"
    cookie = signed.headers["set-cookie"]
    assert "sentinel_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert console.get("/queue").status_code == 200
    assert console.get("/").headers["location"] == "/queue"
    # issue #37: the cookie is an opaque session, never the key; sign-out ends it on the server
    token = cookie.split("sentinel_session=")[1].split(";")[0]
    assert token.startswith("ss_") and console.keys["analyst"] not in cookie
    page = console.get("/queue").text
    out = console.client.post("/signout", data={"csrf_token": _field(page, "csrf_token")},
                              follow_redirects=False)  # fmt: skip
    assert out.status_code == 303
    console.client.cookies.set("sentinel_session", token)  # a copy of the old cookie
    assert console.get("/queue").headers["location"].startswith("/signin")
    console.client.cookies.set("sentinel_session", console.keys["analyst"])  # a key is no session
    assert console.get("/queue").headers["location"].startswith("/signin")


def test_sign_in_refuses_a_forged_form_and_an_open_redirect(console: Console) -> None:
    forged = console.client.post(
        "/signin",
        data={"api_key": console.keys["analyst"], "csrf_token": "forged", "next": "/queue"},
    )
    assert forged.status_code == 403 and "security token" in forged.text
    assert "sentinel_session" not in forged.headers.get("set-cookie", "")
    away = console.sign_in(next_path="//evil.example/x")
    assert away.status_code == 303 and away.headers["location"] == "/queue"


def test_queue_page_filters_and_pages_by_cursor(console: Console) -> None:
    console.sign_in("viewer")
    page = console.get("/queue?category=MEDIUM")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    players = _top_players(page.text)
    assert len(players) == 50 and len(set(players)) == 50
    expected = [
        i.player_id for i in console.app.players.queue(min_category="MEDIUM", limit=100).items
    ]
    assert players == expected[:50]
    following = re.search(r'<a href="([^"]+)" rel="next">', page.text)
    assert following
    second = console.get(following.group(1).replace("&amp;", "&"))
    assert _top_players(second.text) == expected[50:100]
    critical = console.get("/queue?category=CRITICAL").text
    assert set(re.findall(r'class="badge (\w+)"', critical)) <= {"critical"}
    state = expected[0][-2:]
    by_state = _top_players(console.get(f"/queue?category=MEDIUM&state={state.lower()}").text)
    assert by_state and all(p.endswith(state) for p in by_state)
    assert _top_players(console.get("/queue?category=MEDIUM&overdue=true").text) == []
    console.app.clock = lambda: utcnow() + timedelta(days=2)  # every SLA has passed
    overdue = console.get("/queue?category=MEDIUM&overdue=true").text
    assert _top_players(overdue) == expected[:50] and "waiting</span>" not in overdue
    console.app.clock = lambda: AS_OF
    none = console.get("/queue?trigger=NJ-DEP-24H")
    assert none.status_code == 200 and "No player matches" in none.text
    assert "7-day change" in page.text and "SLA due" in page.text
    bad = console.get("/queue?cursor=%%%")
    assert bad.status_code == 422 and "invalid cursor" in bad.text


def test_player_page_shows_assessment_evidence_history_and_bets(console: Console) -> None:
    console.sign_in("viewer")
    player = _top_players(console.get("/queue").text)[0]
    page = console.get(f"/players/{player}")
    assert page.status_code == 200
    assessment = console.app.players.analyze(player, with_history=True)
    text = page.text
    assert f"{assessment.composite_risk_score:.3f}" in text
    for evidence in assessment.evidence.values():
        assert html.escape(evidence.summary).replace("&#x27;", "&#39;") in text
    # one polyline per series drawn, one point per run; the table repeats the figures
    assert (assessment.history or []) and text.count('<polyline class="series') >= 2
    assert text.count("<circle") >= len(assessment.history or [])
    composite = re.search(r'<polyline class="series composite-risk-score" points="([^"]+)"', text)
    assert composite and len(composite.group(1).split()) == len(assessment.history or [])
    assert '<svg viewBox="0 0 720 260" role="img"' in text
    assert "Recent bets" in text and text.count('<tr><th scope="row">') >= 5
    # a viewer sees no forms that act
    assert 'action="/players/' not in text.replace(f'action="/players/{player}">', "")
    assert "may view but not act" in text
    missing = console.get("/players/PLR_99999_NJ")
    assert missing.status_code == 404 and "PLR_99999_NJ" in missing.text
    malformed = console.get("/players/nobody")
    assert malformed.status_code == 422 and "PLR_1234_MA" in malformed.text


def test_explanation_on_request_names_its_source(console: Console, monkeypatch: Any) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    console.sign_in("viewer")
    player = _top_players(console.get("/queue").text)[0]
    plain = console.get(f"/players/{player}").text
    assert "Explain and draft a nudge" in plain and "Written by" not in plain
    explained = console.get(f"/players/{player}?explain=true").text
    assert "Written by the rules (no AI call)" in explained
    assert '<blockquote class="nudge">' in explained


def test_record_an_intervention_with_the_clis_rules(console: Console) -> None:
    console.sign_in("analyst")
    player = _top_players(console.get("/queue").text)[0]
    page = console.get(f"/players/{player}").text
    key = _field(page, "idempotency_key")
    short = console.post(f"/players/{player}/interventions", page, intervention_type="timeout",
                         reason="short", idempotency_key=key, duration_hours="")  # fmt: skip
    assert short.status_code == 422
    assert _alert(short.text) == (
        "reason: String should have at least 10 characters; "
        "duration_hours required for timeout interventions"
    )
    assert "short</textarea>" in short.text  # what was typed is kept
    hours = console.post(f"/players/{player}/interventions", page, intervention_type="timeout",
                         reason="Chasing losses after midnight", idempotency_key=key,
                         duration_hours="many")  # fmt: skip
    assert hours.status_code == 422 and "whole number" in _alert(hours.text)
    form = {"intervention_type": "timeout", "reason": "Chasing losses after midnight",
            "idempotency_key": key, "duration_hours": "24"}  # fmt: skip
    made = console.post(f"/players/{player}/interventions", page, **form)
    assert made.status_code == 303
    again = console.post(f"/players/{player}/interventions", page, **form)  # a double submit
    assert again.headers["location"] == made.headers["location"]
    shown = console.get(made.headers["location"]).text
    assert "Done: timeout INT-" in shown
    assert shown.count(">created</td>") == 1 and ">analyst01</td>" in shown
    stored = console.app.interventions.find(player_id=player)
    assert [(i.intervention_type, i.duration_hours, i.analyst_id) for i in stored] == [
        ("timeout", 24, "analyst01")
    ]
    # another timeout while one is active: the CLI's conflict, with its hint
    fresh = console.get(f"/players/{player}").text
    conflict = console.post(
        f"/players/{player}/interventions",
        fresh,
        **{**form, "idempotency_key": _field(fresh, "idempotency_key")},
    )
    assert conflict.status_code == 409 and "supersede" in _alert(conflict.text).lower()
    # cancel it: an audit event
    intervention_id = stored[0].intervention_id
    cancelled = console.post(f"/interventions/{intervention_id}/cancel", fresh,
                             reason="Player called; spoke with support")  # fmt: skip
    assert cancelled.status_code == 303, _alert(cancelled.text)
    after = console.get(cancelled.headers["location"]).text
    assert ">cancelled</td>" in after and "Player called; spoke with support" in after


def test_forms_refuse_without_the_csrf_token_and_without_the_role(console: Console) -> None:
    console.sign_in("analyst")
    player = _top_players(console.get("/queue").text)[0]
    body = {"intervention_type": "watchlist", "reason": "Watch the next week closely",
            "idempotency_key": "k1"}  # fmt: skip
    forged = console.client.post(f"/players/{player}/interventions", follow_redirects=False,
                                 data={**body, "csrf_token": "0" * 64})  # fmt: skip
    assert forged.status_code == 403 and "security token" in forged.text
    missing = console.client.post(f"/players/{player}/interventions", data=body)
    assert missing.status_code == 403 and "security token" in missing.text  # as a wrong one
    console.client.cookies.clear()
    console.sign_in("viewer")
    page = console.get(f"/players/{player}").text
    denied = console.post(f"/players/{player}/interventions", page, **body)
    assert denied.status_code == 403 and "needs analyst" in denied.text
    assert console.app.interventions.find(player_id=player) == []


def test_cases_page_and_a_contact_attempt(console: Console) -> None:
    from dk_sentinel.interventions.cases import open_or_update

    with console.app.connect() as wh:
        run_id, as_of = wh.query(
            "select run_id, as_of from {ops}.scoring_runs where status = 'success'"
        )[0]
        assert open_or_update(wh, run_id, as_of, {"CRITICAL": 2, "HIGH": 24}, AS_OF) > 0
    console.sign_in("analyst")
    listing = console.get("/cases?state=open")
    assert listing.status_code == 200
    case_ids = re.findall(r'<th scope="row">(CASE-[^<]+)</th>', listing.text)
    every = [c.case_id for c in console.app.cases.find(state="open")]
    assert len(every) > 50 and case_ids == every[:50]  # most urgent first, 50 a page
    following = re.search(r'<a href="([^"]+)" rel="next">', listing.text)
    assert following
    second = console.get(following.group(1).replace("&amp;", "&")).text
    assert re.findall(r'<th scope="row">(CASE-[^<]+)</th>', second) == every[50:100]
    case = console.app.cases.get(case_ids[0])
    page = console.get(f"/players/{case.player_id}").text
    logged = console.post(f"/cases/{case.case_id}/contact", page, result="no_answer",
                          note="voicemail", back=f"/players/{case.player_id}")  # fmt: skip
    assert logged.status_code == 303
    after = console.get(logged.headers["location"]).text
    assert ">contact</td>" in after and "voicemail" in after
    assert console.app.cases.get(case.case_id).failed_contacts == 1
    assert console.get("/cases?jurisdiction=zz").text.count('<th scope="row">CASE-') == 0
    wrong = console.post(f"/cases/{case.case_id}/contact", page, result="maybe")
    assert wrong.status_code == 422 and "unknown contact result" in wrong.text
    # the case actions of issue #36: a note, a contest, a suspension confirmed (a pack of one
    # failed contact stands in for the third of NJ's, days apart)
    noted = console.post(f"/cases/{case.case_id}/change", page, action="note",
                         text="Player emailed; call tomorrow")  # fmt: skip
    assert noted.status_code == 303 and noted.headers["location"].endswith("done=case:in_contact")
    contested = console.post(f"/cases/{case.case_id}/change", page, action="contest",
                             text="Deposits were a salary transfer")  # fmt: skip
    assert contested.status_code == 303 and console.app.cases.get(case.case_id).state == "contested"
    again = console.post(f"/cases/{case.case_id}/change", page, action="contest",
                         text="Deposits were a salary transfer")  # fmt: skip
    assert again.status_code == 409 and "cannot be contested" in again.text
    unknown = console.post(f"/cases/{case.case_id}/change", page, action="delete", text="x")
    assert unknown.status_code == 422
    kinds = [e.event_type for e in console.app.cases.get(case.case_id).events]
    assert kinds[-2:] == ["note", "contested"]
    # a claim from the queue page: the first player nobody works, then shown as claimed
    queue_page = console.get("/queue").text
    claimed = console.post("/queue/claim", queue_page, category="HIGH")
    assert claimed.status_code == 303 and "done=claimed:" in claimed.headers["location"]
    player = claimed.headers["location"].split("/players/")[1].split("?")[0]
    assert "claimed by analyst01" in console.get("/queue").text
    listed = console.app.players.queue(limit=500).items
    assert next(i for i in listed if i.player_id == player).claimed_by == "analyst01"


# ---- accessibility: labels, structure and contrast (the browser test adds axe-core) -------


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang = None
        self.h1 = 0
        self.controls: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.svg_titles = 0
        self.in_svg = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "h1":
            self.h1 += 1
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        if tag == "svg":
            self.in_svg = True
        if tag == "title" and self.in_svg:
            self.svg_titles += 1


def _check_structure(html: str) -> None:
    parser = _Structure()
    parser.feed(html)
    assert parser.lang == "en" and parser.h1 == 1
    for control in parser.controls:
        assert control.get("id") in parser.labels or control.get("aria-label"), control
    if "<svg" in html:
        assert parser.svg_titles >= 1


def test_every_page_has_labels_one_heading_and_a_language(console: Console) -> None:
    _check_structure(console.get("/signin").text)
    console.sign_in("analyst")
    queue = console.get("/queue").text
    _check_structure(queue)
    _check_structure(console.get(f"/players/{_top_players(queue)[0]}").text)
    _check_structure(console.get("/cases").text)


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = (STATIC / "console.css").read_text()
    colour = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    pairs = [("ink", "paper"), ("ink", "panel"), ("muted", "paper"), ("muted", "panel"),
             ("link", "paper"), ("link", "panel"), ("critical-ink", "critical-bg"),
             ("high-ink", "high-bg"), ("medium-ink", "medium-bg"), ("low-ink", "low-bg"),
             ("alert-ink", "alert-bg"), ("notice-ink", "notice-bg")]  # fmt: skip
    for fg, bg in pairs:
        assert _contrast(colour[fg], colour[bg]) >= 4.5, (fg, bg)
    assert _contrast("#ffffff", colour["link"]) >= 4.5  # button text
    assert _contrast(colour["focus"], colour["paper"]) >= 3.0  # focus ring (non-text)


def test_static_files_are_served_from_the_package(console: Console) -> None:
    css = console.get("/static/console.css")
    assert css.status_code == 200 and "--ink" in css.text
    assert "keydown" in console.get("/static/console.js").text
    # nothing from elsewhere: the console works offline
    templates = STATIC.parent / "templates"
    for template in templates.glob("*.html"):
        assert "http://" not in template.read_text() and "https://" not in template.read_text()


def test_history_chart_scales_points_and_marks_interventions_and_outcomes() -> None:
    from datetime import timedelta

    from dk_sentinel.console.charts import HEIGHT, WIDTH, history_chart
    from dk_sentinel.models import HistoryPoint, Intervention, PlayerOutcome

    day = timedelta(days=1)
    points = [
        HistoryPoint(as_of=AS_OF + i * day, run_id=f"r{i}", composite_risk_score=v,
                     risk_category="LOW", loss_chase=v / 2, gamalyze=None)
        for i, v in enumerate([0.0, 0.5, 1.0])
    ]  # fmt: skip
    made = Intervention(intervention_id="INT-1", player_id="PLR_1234_NJ",
                        intervention_type="timeout", status="active", reason="r" * 10,
                        analyst_id="ana01", created_at=AS_OF + day)  # fmt: skip
    outside = made.model_copy(update={"created_at": AS_OF - day})
    outcome = PlayerOutcome(event_at=AS_OF + 2 * day, event_type="self_exclusion")
    chart = history_chart(points, [made, outside], [outcome], {"HIGH": 0.6})
    composite = next(s for s in chart.series if s.name == "composite")
    xs = [x for x, _ in composite.dots]
    ys = [y for _, y in composite.dots]
    assert xs[0] < xs[1] < xs[2] <= WIDTH and ys[0] > ys[1] > ys[2] >= 0 and ys[0] < HEIGHT
    assert xs[1] == pytest.approx((xs[0] + xs[2]) / 2, abs=0.1)  # time is linear
    assert {s.name for s in chart.series} == {"composite", "loss_chase"}  # gamalyze absent
    assert [(m.kind, m.label, m.x) for m in chart.markers] == [
        ("intervention", "timeout", xs[1]),
        ("outcome", "self_exclusion", xs[2]),
    ]  # the intervention before the period is not drawn
    assert [g.label for g in chart.guides] == ["HIGH 0.60"]
    assert history_chart([], [], [], {}).empty


def test_bad_filters_and_forms_are_pages_and_links_stay_clean(console: Console) -> None:
    console.sign_in("analyst")
    bad_category = console.get("/queue?category=low")
    assert bad_category.status_code == 422 and bad_category.headers["content-type"].startswith(
        "text/html"
    )
    assert "category" in bad_category.text
    forged = console.get("/queue?cursor=" + "OTk5OTk5OTk5OTk5OTk5OTk5OTk=")  # 10^21
    assert forged.status_code == 422 and "invalid cursor" in forged.text
    assert console.get("/cases?state=&jurisdiction=&trigger=").status_code == 200  # "any"
    unknown = console.get("/cases?state=pending")
    assert unknown.status_code == 422 and "unknown case state" in unknown.text
    # a message in ?done= is shown only for what a form's redirect can say
    player = _top_players(console.get("/queue").text)[0]
    assert "Done:" not in console.get(f"/players/{player}?done=you%20won%20a%20prize").text
    # a form posted after the session ended: sign in, then back to the lists, not to a POST URL
    console.client.cookies.clear()
    late = console.client.post(f"/players/{player}/interventions", follow_redirects=False,
                               data={"csrf_token": "x", "intervention_type": "watchlist",
                                     "reason": "Watch the next week", "idempotency_key": "k"})  # fmt: skip
    assert late.status_code == 303 and late.headers["location"] == "/signin?next=%2Fqueue"


def test_an_unfiltered_case_list_pages_with_clean_links(console: Console) -> None:
    from dk_sentinel.interventions.cases import open_or_update

    with console.app.connect() as wh:
        run_id, as_of = wh.query("select run_id, as_of from {ops}.scoring_runs")[0]
        open_or_update(wh, run_id, as_of, {"CRITICAL": 2, "HIGH": 24}, AS_OF)
    console.sign_in("analyst")
    first = console.get("/cases")
    following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert following and "state=" not in following.group(1)
    second = console.get(following.group(1).replace("&amp;", "&"))
    every = [c.case_id for c in console.app.cases.find()]
    assert re.findall(r'<th scope="row">(CASE-[^<]+)</th>', second.text) == every[50:100]
    case = console.app.cases.find()[0]
    page = console.get(f"/players/{case.player_id}").text
    too_long = console.post(f"/cases/{case.case_id}/contact", page, result="reached",
                            note="x" * 501)  # fmt: skip
    assert too_long.status_code == 422 and _alert(too_long.text).startswith("Contact: note:")
