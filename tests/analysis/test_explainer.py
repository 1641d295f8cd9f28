"""The explainer: request builder, the real SDK over httpx2.MockTransport, fallbacks, tone, cache."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx2
import pytest

from conftest import invoke
from dk_sentinel.analysis.assessment import assess
from dk_sentinel.analysis.explainer import (
    REQUEST_FIELDS,
    SYSTEM_PROMPT,
    TOOL_NAME,
    AnthropicExplainer,
    RuleExplainer,
    build_request,
    cached_explanation,
    make_explainer,
    store_explanation,
    template_nudge,
    tone_problems,
)
from dk_sentinel.config import Settings
from dk_sentinel.models import RiskAssessment, utcnow
from dk_sentinel.warehouse import connect

GOOD_NUDGE = (
    "We're here for you. If you'd like, you can set limits or take a short break at any time "
    "from https://www.draftkings.com/responsible-gaming, and free support is available at 1-800-GAMBLER."
)


@pytest.fixture
def assessment(scored: Settings, top_player: str) -> RiskAssessment:
    with connect(scored) as wh:
        return assess(wh, scored, top_player, now=utcnow())


def message(tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
        "content": [{"type": "tool_use", "id": "toolu_01", "name": TOOL_NAME, "input": tool_input}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 50, "output_tokens": 60},
    }  # fmt: skip


def model_output(settings: Settings, nudge: str | None = None) -> dict[str, Any]:
    return {
        "explanation": "Loss chasing dominates: 14 of 20 settled losses were followed by bigger bets within 60 minutes.",
        "key_evidence": ["14 of 20 losses chased", "stakes 3.1x baseline"],
        "recommended_action": settings.actions.critical,
        **({"customer_nudge": nudge} if nudge else {}),
    }


def client_for(handler) -> tuple[anthropic.Anthropic, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return handler(request)

    client = anthropic.Anthropic(
        api_key="test-key", base_url="http://anthropic.test", max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(record)),
    )  # fmt: skip
    return client, seen


def test_request_carries_only_documented_fields(
    assessment: RiskAssessment, scored: Settings
) -> None:
    assessment.ai_explanation = "analyst free text must never be sent"
    request = build_request(assessment, scored, want_nudge=True)
    assert request["system"] == SYSTEM_PROMPT  # constant: no data in the system prompt
    assert request["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    text = request["messages"][0]["content"]
    payload = json.loads(text.split("```json\n", 1)[1].rsplit("```", 1)[0])
    assert set(payload) == REQUEST_FIELDS == {
        "player_id", "state", "risk_category", "composite_risk_score", "risk_probability", "component_scores",
        "components_present", "evidence", "is_low_confidence", "allowed_actions", "help_resources",
    }  # fmt: skip
    assert "analyst free text" not in text
    for evidence in payload["evidence"].values():
        assert all(isinstance(v, int | float) or v is None for v in evidence.values())
    enum = request["tools"][0]["input_schema"]["properties"]["recommended_action"]["enum"]
    assert enum == list(scored.actions.model_dump().values())


def test_sdk_round_trip_success(assessment: RiskAssessment, scored: Settings) -> None:
    client, seen = client_for(
        lambda r: httpx2.Response(200, json=message(model_output(scored, GOOD_NUDGE)))
    )
    result = AnthropicExplainer(scored, client=client).explain(assessment, want_nudge=True)
    assert result.source == "ai" and result.model == scored.ai.model
    assert result.explanation.startswith("Loss chasing dominates")
    assert result.customer_nudge == GOOD_NUDGE
    body = json.loads(seen[0].content)
    assert set(body) >= {"model", "max_tokens", "system", "tools", "tool_choice", "messages"}
    assert "test-key" in str(dict(seen[0].headers))


def test_bad_ai_nudge_is_replaced_by_the_template(
    assessment: RiskAssessment, scored: Settings, caplog
) -> None:
    bad = "You must stop now, you are an addict who lost $500."
    client, _ = client_for(lambda r: httpx2.Response(200, json=message(model_output(scored, bad))))
    result = AnthropicExplainer(scored, client=client).explain(assessment, want_nudge=True)
    assert result.customer_nudge == template_nudge(assessment, scored)
    assert "AI nudge replaced by the template nudge" in caplog.text


@pytest.mark.parametrize(
    ("handler", "notice"),
    [
        (lambda r: httpx2.Response(200, json=message({"explanation": "too short"})), "malformed"),
        (
            lambda r: httpx2.Response(
                200, json={**message({}), "content": [{"type": "text", "text": "hi"}]}
            ),
            "no structured explanation",
        ),
        (
            lambda r: httpx2.Response(
                401,
                json={
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "bad key"},
                },
            ),
            "check ANTHROPIC_API_KEY",
        ),
        (
            lambda r: httpx2.Response(
                429,
                json={"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
            ),
            "rate-limiting (429)",
        ),
        (
            lambda r: httpx2.Response(
                500, json={"type": "error", "error": {"type": "api_error", "message": "oops"}}
            ),
            "failed (500)",
        ),
        (
            lambda r: (_ for _ in ()).throw(httpx2.ReadTimeout("timed out", request=r)),
            "did not answer within",
        ),
        (
            lambda r: (_ for _ in ()).throw(httpx2.ConnectError("refused", request=r)),
            "connection error",
        ),
    ],
)
def test_failures_fall_back_to_rules(
    assessment: RiskAssessment, scored: Settings, handler, notice: str, caplog
) -> None:
    client, _ = client_for(handler)
    result = AnthropicExplainer(scored, client=client).explain(assessment)
    assert result.source == "rules"
    assert notice in (result.notice or "")
    assert "using the rules" in caplog.text


def test_action_outside_the_matrix_is_refused(assessment: RiskAssessment, scored: Settings) -> None:
    output = {**model_output(scored), "recommended_action": "Close the account immediately"}
    client, _ = client_for(lambda r: httpx2.Response(200, json=message(output)))
    result = AnthropicExplainer(scored, client=client).explain(assessment)
    assert result.source == "rules" and "outside the action matrix" in (result.notice or "")


def test_missing_key_falls_back(assessment: RiskAssessment, scored: Settings) -> None:
    result = AnthropicExplainer(scored).explain(assessment)
    assert result.source == "rules" and result.notice == "ANTHROPIC_API_KEY is not set"


def test_rules_explanation_cites_numbers_and_action(
    assessment: RiskAssessment, scored: Settings
) -> None:
    result = RuleExplainer(scored).explain(assessment)
    import re

    assert len(re.findall(r"\d+(?:\.\d+)?", result.explanation)) >= 2
    assert result.recommended_action == scored.actions.critical
    assert result.key_evidence


def test_make_explainer_respects_config(scored: Settings) -> None:
    assert make_explainer(scored).name == "ai"
    assert make_explainer(scored, use_ai=False).name == "rules"
    disabled = scored.model_copy(deep=True)
    disabled.ai.enabled = False
    assert make_explainer(disabled).name == "rules"


def test_cache_prevents_a_second_call(scored: Settings, assessment: RiskAssessment) -> None:
    client, seen = client_for(lambda r: httpx2.Response(200, json=message(model_output(scored))))
    explainer = AnthropicExplainer(scored, client=client)
    with connect(scored) as wh:
        assert cached_explanation(wh, explainer, assessment) is None
        first = explainer.explain(assessment)
        store_explanation(wh, explainer, assessment, first)
        second = cached_explanation(wh, explainer, assessment)
        assert cached_explanation(wh, explainer, assessment, want_nudge=True) is None
        assert cached_explanation(wh, RuleExplainer(scored), assessment) is None
    assert len(seen) == 1
    assert first == second and second is not None and second.source == "ai"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD_NUDGE, None),
        (GOOD_NUDGE + " You must stop.", "command 'must'"),
        (GOOD_NUDGE.replace("We're here", "As a problem gambler, we're here"), "stigmatising"),
        (GOOD_NUDGE + " You lost $250 this week.", "money amount"),
        (GOOD_NUDGE.replace("If you'd like, you can", "Please"), "no autonomy language"),
        (GOOD_NUDGE.replace("1-800-GAMBLER", "our team"), "no pointer to help"),
        (GOOD_NUDGE + " You have to take a break.", "command 'have to'"),
        (GOOD_NUDGE.replace("We're here", "This is irresponsible; we're here"), "stigmatising"),
    ],
)
def test_tone_check(scored: Settings, text: str, problem: str | None) -> None:
    problems = tone_problems(text, scored)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_template_nudge_passes_the_tone_check(assessment: RiskAssessment, scored: Settings) -> None:
    for driver in ("loss_chase", "bet_escalation", "market_drift", "temporal_risk", None):
        assessment.primary_driver = driver  # type: ignore[assignment]
        assert tone_problems(template_nudge(assessment, scored), scored) == []


def test_analyze_explain_without_key_uses_rules(runner, scored: Settings, top_player: str) -> None:
    result = invoke(
        runner,
        "--db",
        str(scored.warehouse.duckdb.path),
        "analyze",
        top_player,
        "--explain",
        "--nudge",
        "-f",
        "json",
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["explanation_source"] == "rules"
    assert data["recommended_action"] == scored.actions.critical
    assert data["customer_nudge"] and "1-800-GAMBLER" in data["customer_nudge"]
    assert "ANTHROPIC_API_KEY is not set" in result.stderr


# ---- a real local server speaking the Messages API, with a real `sentinel` process ---------


class _Server:
    def __init__(self, mode: str, settings: Settings) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.requests.append(body)
                if mode == "hang":
                    time.sleep(6)
                status, payload = (
                    (500, {"type": "error", "error": {"type": "api_error", "message": "x"}})
                    if mode == "500"
                    else (200, message(model_output(settings)))
                )
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except BrokenPipeError:  # "hang": the client gave up waiting, as it should
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.mark.parametrize("mode", ["ok", "500", "hang"])
def test_analyze_against_a_local_messages_server(
    scored: Settings, top_player: str, mode: str
) -> None:
    server = _Server(mode, scored)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=server.url,
        SENTINEL_AI__TIMEOUT_SECONDS="1.5",
        SENTINEL_AI__MAX_RETRIES="0",
    )
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dk_sentinel", "--db", str(scored.warehouse.duckdb.path), "analyze", top_player, "--explain", "-f", "json"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
    finally:
        server.close()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (
        server.requests
        and set(
            json.loads(
                server.requests[0]["messages"][0]["content"].split("```json\n")[1].rsplit("```")[0]
            )
        )
        <= REQUEST_FIELDS
    )
    if mode == "ok":
        assert data["explanation_source"] == "ai" and data["ai_explanation"].startswith(
            "Loss chasing dominates"
        )
    else:
        assert data["explanation_source"] == "rules"
        assert len([ln for ln in proc.stderr.splitlines() if "using the rules" in ln]) == 1
    if mode == "hang":
        assert (
            elapsed < 1.5 + 2 + 3
        )  # the timeout plus 2 s, plus process start-up on a loaded CI box


def test_the_timeout_bounds_the_whole_call_retries_included(
    scored: Settings, assessment: RiskAssessment, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _Server("hang", scored)  # answers after 6 s
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    settings = scored.model_copy(deep=True)
    settings.ai.timeout_seconds = 1.5
    settings.ai.max_retries = 2  # the SDK alone would wait 3 x 1.5 s plus backoff
    started = time.monotonic()
    try:
        result = AnthropicExplainer(settings).explain(assessment)
    finally:
        server.close()
    elapsed = time.monotonic() - started
    assert result.source == "rules" and "did not answer within 1.5 s" in (result.notice or "")
    assert elapsed < 1.5 + 0.7


def test_a_failed_attempt_is_retried_inside_the_deadline(
    scored: Settings, assessment: RiskAssessment
) -> None:
    answers = iter([
        httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error",
                                                              "message": "busy"}}),
        httpx2.Response(200, json=message(model_output(scored))),
    ])  # fmt: skip
    client, seen = client_for(lambda r: next(answers))
    settings = scored.model_copy(deep=True)
    settings.ai.max_retries = 2
    result = AnthropicExplainer(settings, client=client).explain(assessment)
    assert result.source == "ai" and len(seen) == 2
