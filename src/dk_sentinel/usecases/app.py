"""The application object: one method per command, the only thing the front ends call.

``Sentinel(settings)`` holds the settings, where warehouse connections come from and the
clock. The CLI builds one in its root callback, the API one per app (with the server's pool);
a front end parses its input, calls one method and renders what it returns. Nothing here
prints, exits or knows about Typer or HTTP. Each use case takes a connection for the block
that needs it and always gives it back, and composes the capabilities, which never call each
other upward: ``analysis`` reads scores and explains them, ``interventions`` records actions
(taking the risk snapshot and the nudge writer as arguments), ``outcomes`` backtests and
calibrates. The layering is an import contract checked by the test suite
(``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dk_sentinel.analysis.assessment import (
    assess,
    build_queue,
    claim_next,
    player_outcomes,
    recent_bets,
    validate_player_id,
)
from dk_sentinel.analysis.explainer import (
    apply,
    cached_explanation,
    make_explainer,
    store_explanation,
)
from dk_sentinel.analysis.regulator import RegulatorReport, regulator_report, write_report
from dk_sentinel.analysis.reporting import (
    ExportKind,
    ExportResult,
    InterventionReport,
    Report,
    export,
    intervention_report,
    report,
)
from dk_sentinel.apikeys import (
    ApiKey,
    NewApiKey,
    authenticate,
    create_key,
    end_session,
    list_keys,
    revoke_key,
    rotate_key,
    start_session,
)
from dk_sentinel.config import Settings
from dk_sentinel.doctor import DoctorReport, parse_age, run_doctor
from dk_sentinel.errors import InsufficientData, UsageError
from dk_sentinel.ingest import IngestResult, Kind, ingest
from dk_sentinel.interventions.cases import (
    Case,
    CaseState,
    ContactResult,
    PackPolicy,
    assign_case,
    close_case,
    contest_case,
    correct_contact,
    get_case,
    list_cases,
    log_contact,
    note_case,
    open_or_update,
    reopen_case,
)
from dk_sentinel.interventions.delivery import DeliveryReport, deliver
from dk_sentinel.interventions.records import (
    cancel_intervention,
    create_intervention,
    get_intervention,
    list_interventions,
    parse_request,
    replayed,
)
from dk_sentinel.jurisdictions import selected_packs
from dk_sentinel.models import (
    BatchRun,
    ContactNote,
    Document,
    Intervention,
    InterventionType,
    PlayerOutcome,
    Queue,
    QueueCategory,
    QueueItem,
    RecentBet,
    RiskAssessment,
    Role,
    utcnow,
    validated,
)
from dk_sentinel.outcomes.backtest import (
    BacktestReport,
    LabelledScores,
    backtest,
    count_outcomes,
    labelled_scores,
    replay_as_ofs,
)
from dk_sentinel.outcomes.calibration import (
    FEATURE_COLUMNS,
    CalibrationReport,
    activate_profile,
    fit_profile,
    store_profile,
)
from dk_sentinel.scoring import DbtCommand, list_runs, score_batch
from dk_sentinel.scoring.dbt import run_dbt
from dk_sentinel.usecases.served import ServedAssessments
from dk_sentinel.warehouse import Connections, DirectConnections, Warehouse
from dk_sentinel.warehouse.jobs import exclusive_job
from dk_sentinel.warehouse.schema import SchemaStatus, bootstrap, require_current

if TYPE_CHECKING:
    from dk_sentinel.synthetic.generator import Families, GenerateResult

Progress = Callable[[str], None] | None
Clock = Callable[[], datetime]


class DemoResult(Document):
    """Everything the demo made."""

    directory: str
    warehouse: str
    bets: int
    players: int
    run: BatchRun
    queue: Queue
    top_player: RiskAssessment | None


class PlayerFile(Document):
    """Everything the console's player page shows: one read of the warehouse."""

    assessment: RiskAssessment
    interventions: list[Intervention] = Field(description="All of them, newest first")
    recent_bets: list[RecentBet]
    outcomes: list[PlayerOutcome]
    cases: list[Case]


class Sentinel:
    """The application: settings, the connection source and the clock, and every use case."""

    def __init__(
        self,
        settings: Settings,
        *,
        connections: Connections | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """Build the application (nothing is opened yet).

        Args:
            settings: Loaded settings.
            connections: Where connections come from (default: one per block, closed after;
                ``sentinel serve`` passes its pool).
            clock: The current time in UTC, naive (tests pass a fixed one).
        """
        self.settings = settings
        self.connections = connections or DirectConnections(settings)
        self.clock = clock
        #: The latest run's assessments in memory (``sentinel serve`` turns it on).
        self.served: ServedAssessments | None = None

    def serve_from_memory(self, max_stale_seconds: float = 60.0) -> ServedAssessments:
        """Answer :meth:`analyze_player` from the latest run held in memory (see ``served``).

        Args:
            max_stale_seconds: Beyond this long without a successful poll, read the warehouse.

        Returns:
            The holder; the caller refreshes it (``sentinel serve`` polls it in a thread).
        """
        stamp = None
        if self.settings.warehouse.backend == "duckdb":
            from dk_sentinel.warehouse.duckdb import file_stamp

            stamp = partial(file_stamp, self.settings.warehouse.duckdb.path)
        self.served = ServedAssessments(
            self.settings, self.connect, self.clock, stamp, max_stale_seconds=max_stale_seconds
        )
        return self.served

    @contextmanager
    def _writing_interventions(self, player_id: str | None = None) -> Iterator[Warehouse]:
        """A connection for a write to interventions; the memory then rereads them.

        So a lookup served from memory shows this server's write at once.

        Args:
            player_id: The one player the write concerns (None: it may concern several).
        """
        try:
            with self.connect() as wh:
                yield wh
        finally:
            if self.served is not None:
                self.served.interventions_changed(player_id)

    def connect(self) -> AbstractContextManager[Warehouse]:
        """A warehouse connection for one ``with`` block, closed or given back after it."""
        return self.connections.connect()

    def close(self) -> None:
        """Close the connections still open (a pool's); idempotent."""
        self.connections.close()

    def initialise(self) -> SchemaStatus:
        """``sentinel init``: create or migrate the warehouse schema (safe to run twice)."""
        with self.connect() as wh:
            return bootstrap(wh)

    def check_health(self, max_age: str | None = None) -> DoctorReport:
        """``sentinel doctor``: config, warehouse, schema, dbt project, Anthropic key.

        With ``max_age`` (``30m``, ``2h``, ``1d``), also that the last successful run is at
        most that old.

        Raises:
            UsageError: ``max_age`` is not such a duration.
        """
        try:
            age = parse_age(max_age) if max_age is not None else None
        except ValueError as exc:
            raise UsageError(str(exc), "e.g. --max-age 2h") from None
        return run_doctor(self.settings, self.connections, max_age=age, now=self.clock())

    def readiness(self) -> None:
        """``GET /health/ready``: the warehouse answers and its schema is this code's.

        Raises:
            WarehouseUnavailable | BusyError: The warehouse cannot be reached now.
            SchemaError: The schema is missing or of another version.
        """
        with self.connect() as wh:
            require_current(wh)

    @staticmethod
    def generate_files(
        out: Path,
        players: int,
        days: int,
        seed: int,
        as_of: datetime | None,
        file_format: Literal["csv", "parquet"] = "csv",
        families: Families = "core",
        season_shift: bool = False,
        holiday: bool = False,
        prevalence: float | None = None,
    ) -> GenerateResult:
        """``sentinel generate``: synthetic contract files with ground-truth labels."""
        from dk_sentinel.synthetic.generator import (
            generate,
        )  # NumPy (~0.1 s) only for the commands that generate

        return generate(
            out, players, days, seed, as_of, file_format, families, season_shift,
            holiday=holiday, prevalence=prevalence,
        )  # fmt: skip

    def load_files(
        self,
        kind: Kind,
        paths: Sequence[str | Path],
        *,
        rejects_out: Path | None = None,
        progress: Progress = None,
        dry_run: bool = False,
    ) -> IngestResult:
        """``sentinel ingest``: validate and load contract files; rejected rows are kept.

        With ``dry_run``, validate and count against the warehouse, and write nothing.

        Loads of one kind take turns, on any host (the ``ingest:<kind>`` lease): a load waits
        for a running one up to ``[warehouse] busy_timeout_seconds``, so overlapping files
        give each id once.
        """
        with self.connect() as wh, exclusive_job(
            self.settings, f"ingest:{kind}", "Wait for the other load, then load again.",
            wh=wh, wait_seconds=self.settings.warehouse.busy_timeout_seconds,
        ) as lease:  # fmt: skip
            return ingest(
                wh, kind, paths, rejects_out=rejects_out, progress=progress,
                max_future_minutes=self.settings.ingest.max_future_minutes, dry_run=dry_run,
                fence=lease.fence,
            )  # fmt: skip

    def run_scoring(
        self,
        *,
        as_of: datetime | None = None,
        full_refresh: bool = False,
        progress: Progress = None,
        run_id: str | None = None,
        dbt: DbtCommand = run_dbt,
    ) -> BatchRun:
        """``sentinel score-batch``: one scoring run under the lock (it opens what it needs).

        A successful live run then opens or updates the cases of its flagged players (a fired
        jurisdiction trigger, or HIGH+).
        """
        run = score_batch(
            self.settings, as_of=as_of, full_refresh=full_refresh, progress=progress,
            run_id=run_id, dbt=dbt, connections=self.connections,
        )  # fmt: skip
        if run.status == "success" and run.kind == "live":
            q = self.settings.queue
            sla = {"CRITICAL": q.sla_hours_critical, "HIGH": q.sla_hours_high}
            with self.connect() as wh:
                open_or_update(wh, run.run_id, run.as_of, sla, self.clock())
        return run

    def scoring_runs(self, limit: int = 20) -> list[BatchRun]:
        """``sentinel runs``: the latest scoring runs, newest first."""
        with self.connect() as wh:
            return list_runs(wh, limit)

    def analyze_player(
        self,
        player_id: str,
        *,
        with_history: bool = False,
        explain: bool = False,
        nudge: bool = False,
        use_ai: bool = True,
    ) -> RiskAssessment:
        """``sentinel analyze``: one player's assessment and open interventions.

        On request also the 90-day history, an explanation and a tone-checked customer nudge.
        """
        validate_player_id(player_id)
        held = self.served.assessment(player_id) if self.served and not with_history else None
        if held is not None:
            assessment = held
        else:
            with self.connect() as wh:
                assessment = assess(wh, self.settings, player_id, with_history=with_history)
                assessment.open_interventions = list_interventions(
                    wh, player_id=player_id, active=True, now=self.clock()
                )
        if not (explain or nudge):
            return assessment
        return self.explain(assessment, nudge=nudge, use_ai=use_ai)

    def explain(
        self, assessment: RiskAssessment, *, nudge: bool = False, use_ai: bool = True
    ) -> RiskAssessment:
        """Add the explanation (and a tone-checked nudge) to an assessment already read.

        A model explanation is cached per player, run, model and prompt; the model is called
        with the warehouse closed, so a slow AI service holds no lock.
        """
        explainer = make_explainer(self.settings, use_ai=use_ai)
        if explainer.name == "ai":  # the rules are free: nothing to look up
            with self.connect() as wh:
                cached = cached_explanation(wh, explainer, assessment, want_nudge=nudge)
            if cached:
                return apply(assessment, cached)
        explanation = explainer.explain(assessment, want_nudge=nudge)
        if explanation.source == "ai":
            with self.connect() as wh:
                store_explanation(wh, explainer, assessment, explanation, want_nudge=nudge)
        return apply(assessment, explanation)

    def review_queue(
        self,
        *,
        min_category: QueueCategory = "HIGH",
        state: str | None = None,
        limit: int = 50,
        include_actioned: bool = False,
        overdue: bool = False,
        trigger: str | None = None,
    ) -> Queue:
        """``sentinel queue``: players to review, highest risk first, with SLA due times."""
        with self.connect() as wh:
            return build_queue(
                wh, min_category=min_category, state=state, limit=limit,
                include_actioned=include_actioned, overdue=overdue, trigger=trigger,
                now=self.clock(),
            )  # fmt: skip

    def player_file(self, player_id: str, *, bets: int = 20) -> PlayerFile:
        """The console's player page: the assessment and everything around it.

        The assessment with its history, every intervention with its audit events, the latest
        bets, the recorded outcomes and the player's cases.

        Raises:
            UsageError: Not a player id.
            NotFoundError: The player was never scored.
        """
        validate_player_id(player_id)
        with self.connect() as wh:
            assessment = assess(wh, self.settings, player_id, with_history=True)
            every = list_interventions(wh, player_id=player_id, now=self.clock(), with_events=True)
            assessment.open_interventions = [i for i in every if i.status == "active"]
            return PlayerFile(
                assessment=assessment,
                interventions=every,
                recent_bets=recent_bets(wh, player_id, bets),
                outcomes=player_outcomes(wh, player_id),
                cases=[
                    get_case(wh, c.case_id, self.clock())  # with its audit events
                    for c in list_cases(wh, self.clock(), player_id=player_id)
                ],
            )

    def record_intervention(
        self,
        *,
        player_id: str,
        intervention_type: InterventionType,
        reason: str,
        analyst_id: str | None,
        duration_hours: int | None = None,
        idempotency_key: str | None = None,
        supersede: bool = False,
        use_ai: bool = True,
    ) -> Intervention:
        """``sentinel intervene``: record an intervention with the player's risk at that moment."""
        request = parse_request(
            player_id=player_id, intervention_type=intervention_type, reason=reason,
            analyst_id=analyst_id or self.settings.analyst, duration_hours=duration_hours,
            idempotency_key=idempotency_key, supersede=supersede,
        )  # fmt: skip
        # Three short holds of the warehouse: the AI call for a nudge happens between them.
        with self.connect() as wh:
            first = replayed(wh, request)
            if first is not None:
                return first
            assessment = assess(wh, self.settings, request.player_id)
        message = None
        if request.intervention_type == "nudge":
            message = make_explainer(self.settings, use_ai=use_ai).nudge(assessment)
        with self._writing_interventions(request.player_id) as wh:
            return create_intervention(
                wh, request, assessment, customer_message=message, now=self.clock()
            )

    def interventions(
        self,
        *,
        player_id: str | None = None,
        active: bool | None = None,
        intervention_type: InterventionType | None = None,
        since: datetime | None = None,
    ) -> list[Intervention]:
        """``sentinel interventions list``: interventions, newest first.

        Raises:
            UsageError: ``player_id`` is not a player id (an empty list would read as "none").
        """
        if player_id is not None:
            validate_player_id(player_id)
        with self.connect() as wh:
            return list_interventions(
                wh, player_id=player_id, active=active, intervention_type=intervention_type,
                since=since, now=self.clock(),
            )  # fmt: skip

    def intervention(self, intervention_id: str) -> Intervention:
        """One intervention with its audit events (``GET /api/interventions/{id}``)."""
        with self.connect() as wh:
            return get_intervention(wh, intervention_id, with_events=True, now=self.clock())

    def cancel(self, intervention_id: str, reason: str, analyst_id: str | None) -> Intervention:
        """``sentinel interventions cancel``: end an active intervention (an audit event)."""
        with self._writing_interventions() as wh:
            return cancel_intervention(
                wh, intervention_id, reason, analyst_id or self.settings.analyst, now=self.clock()
            )

    def export_data(
        self,
        kind: ExportKind,
        out: str,
        *,
        category: str | None = None,
        pending_delivery: bool = False,
        history: bool = False,
    ) -> ExportResult:
        """``sentinel export``: scores or interventions to a file (``-``: rows in ``records``)."""
        with self.connect() as wh:
            return export(
                wh, kind, out, category=category, pending_delivery=pending_delivery,
                history=history,
            )  # fmt: skip

    def deliver_interventions(self) -> DeliveryReport:
        """``sentinel deliver``: post pending interventions to the platform webhook (cron)."""
        with self._writing_interventions() as wh:
            return deliver(wh, self.settings, now=self.clock())

    def compliance_report(self) -> Report:
        """``sentinel report``: categories, states, interventions and SLA breaches."""
        with self.connect() as wh:
            return report(wh, now=self.clock())

    def regulator_report(
        self, jurisdiction: str, since: datetime, until: datetime, out: Path | None = None
    ) -> RegulatorReport:
        """``sentinel report regulator``: one jurisdiction over a period, written to ``out``.

        ``until`` at midnight (a date) includes that whole day.

        Raises:
            UsageError: A bad jurisdiction, an empty period or an unknown file suffix.
        """
        if until == until.replace(hour=0, minute=0, second=0, microsecond=0):
            until += timedelta(days=1)
        with self.connect() as wh:
            result = regulator_report(wh, jurisdiction, since, until, self.clock())
        if out is not None:
            write_report(result, out)
        return result

    def interventions_effect(self) -> InterventionReport:
        """``sentinel report --interventions``: what followed each intervention, breaches."""
        with self.connect() as wh:
            return intervention_report(
                wh, list(self.settings.outcomes.harmful_event_types), now=self.clock()
            )

    def replay_history(
        self,
        every_days: int,
        *,
        horizon_days: int | None = None,
        max_runs: int | None = None,
        progress: Progress = None,
    ) -> list[BatchRun]:
        """Score past as-ofs (every ``every_days`` back over the bets held) as replay runs.

        Replays use the same dbt models and land in the score history as runs of kind
        ``replay``: backtests and calibration read them; analysts never see them as latest.

        Raises:
            InsufficientData: The history is too short for one observed as-of.
            PartialFailure | ScoringError: A replay run failed (the ones before it are kept).
        """
        say = progress or (lambda _msg: None)
        horizon = horizon_days or self.settings.outcomes.horizon_days
        with self.connect() as wh:
            as_ofs = replay_as_ofs(
                wh, self.settings, every_days, horizon_days=horizon,
                max_runs=max_runs or self.settings.outcomes.max_replays,
            )  # fmt: skip
        runs = []
        for n, as_of in enumerate(as_ofs, 1):
            say(f"replay {n}/{len(as_ofs)}: scoring as of {as_of:%Y-%m-%d %H:%M}")
            run = score_batch(
                self.settings, as_of=as_of, kind="replay", connections=self.connections
            )
            if (failure := run.failure()) is not None:
                raise failure
            runs.append(run)
        return runs

    def run_backtest(
        self,
        *,
        horizon_days: int | None = None,
        since: date | None = None,
        until: date | None = None,
        capacity: int | None = None,
        replay_days: int | None = None,
        progress: Progress = None,
    ) -> BacktestReport:
        """``sentinel backtest``: past scores (optionally replayed first) against later outcomes.

        Raises:
            InsufficientData: No scoring run is old enough for its outcome window to have
                closed (a demo or a new warehouse): nothing to measure, said so, not an empty
                report.
        """
        if replay_days:
            self.replay_history(replay_days, horizon_days=horizon_days, progress=progress)
        with self.connect() as wh:
            data = labelled_scores(
                wh, self.settings, horizon_days=horizon_days, since=since, until=until
            )
        if data.rows == 0:
            horizon = horizon_days or self.settings.outcomes.horizon_days
            raise InsufficientData(
                f"no scoring run is at least {horizon} days older than the latest outcome "
                "data, so nothing can be measured yet",
                "Replay past as-ofs first: `sentinel backtest --replay 7` (or wait for the "
                "outcome window of today's runs to close).",
            )
        return backtest(data, capacity=capacity or self.settings.queue.daily_capacity)

    def calibrate_scores(
        self,
        *,
        horizon_days: int | None = None,
        folds: int = 5,
        apply: bool = False,
        replay_days: int | None = None,
        progress: Progress = None,
    ) -> CalibrationReport:
        """``sentinel calibrate``: fit, validate and store a scoring profile (``apply``: use it).

        The labelled rows are every observed run's scores (live and replayed). When they hold
        fewer positives than ``[outcomes] min_positives`` and no ``replay_days`` was given, past
        as-ofs are replayed first every ``[outcomes] replay_every_days`` days, so an operator with
        outcomes but no score history can calibrate at once.

        Raises:
            InsufficientData: Too few harmful outcomes even after replaying.
        """
        say = progress or (lambda _msg: None)
        o = self.settings.outcomes
        with self.connect() as wh:
            harmful = count_outcomes(wh, o.harmful_event_types)
        if harmful < o.min_positives:  # replaying cannot find what is not there
            raise InsufficientData(
                f"too few harmful outcomes to calibrate on: {harmful} held "
                f"({', '.join(o.harmful_event_types)}); at least {o.min_positives} are needed",
                "Load the operator's outcomes with `sentinel ingest outcomes FILE`; until then "
                "the scores work as before, without risk_probability.",
            )

        def labelled() -> LabelledScores:
            with self.connect() as wh:
                return labelled_scores(
                    wh, self.settings, horizon_days=horizon_days, columns=FEATURE_COLUMNS,
                    later_outcomes="leave_out",
                )  # fmt: skip

        data = None if replay_days else labelled()
        if data is None or data.positives < o.min_positives:
            every = replay_days or o.replay_every_days
            self.replay_history(every, horizon_days=horizon_days, progress=progress)
            data = labelled()
        say(f"fitting on {data.rows:,} rows ({data.positives:,} positive), {folds} folds")
        report, fitted = fit_profile(
            data, folds=folds, regularisation=o.regularisation, min_positives=o.min_positives
        )
        with self.connect() as wh:
            report = store_profile(wh, report, fitted, now=self.clock())
            if apply:
                activate_profile(wh, report.profile_version, now=self.clock())
                report.applied = True
        return report

    def cases(
        self,
        *,
        state: CaseState | None = None,
        overdue: bool = False,
        jurisdiction: str | None = None,
        trigger: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Case]:
        """``sentinel cases list``: cases, most urgent first (a page with ``limit``)."""
        with self.connect() as wh:
            return list_cases(
                wh, self.clock(), state=state, overdue=overdue, jurisdiction=jurisdiction,
                trigger=trigger, limit=limit, offset=offset,
            )  # fmt: skip

    def case(self, case_id: str) -> Case:
        """``sentinel cases show``: one case with its audit trail."""
        with self.connect() as wh:
            return get_case(wh, case_id, self.clock())

    def _policy(self, case: Case) -> PackPolicy:
        packs = selected_packs(self.settings)
        pack = packs.get(case.jurisdiction, packs["*"])
        return PackPolicy(
            suspend_after_failed_contacts=pack.suspend_after_failed_contacts,
            min_hours_between_failed_contacts=pack.min_hours_between_failed_contacts,
            clear_days=pack.clear_days,
        )

    def contact_case(
        self,
        case_id: str,
        result: ContactResult,
        note: str,
        analyst_id: str | None,
        *,
        confirm_suspension: bool = False,
    ) -> Case:
        """``sentinel cases contact``: a contact attempt (failed ones may suspend, confirmed)."""
        with self.connect() as wh:
            policy = self._policy(get_case(wh, case_id, self.clock()))
            return log_contact(
                wh, case_id, result, note, analyst_id or self.settings.analyst, policy,
                self.clock(), confirm_suspension=confirm_suspension,
            )  # fmt: skip

    def contest_case(self, case_id: str, reason: str, analyst_id: str | None) -> Case:
        """``sentinel cases contest``: the trigger is disputed (with why)."""
        with self.connect() as wh:
            return contest_case(wh, case_id, reason, analyst_id or self.settings.analyst,
                                self.clock())  # fmt: skip

    def reopen_case(self, case_id: str, reason: str, analyst_id: str | None) -> Case:
        """``sentinel cases reopen``: a closed case is worked again (with why)."""
        with self.connect() as wh:
            return reopen_case(wh, case_id, reason, analyst_id or self.settings.analyst,
                               self.clock())  # fmt: skip

    def assign_case(self, case_id: str, assignee: str, analyst_id: str | None) -> Case:
        """``sentinel cases assign``: who works the case from now on."""
        with self.connect() as wh:
            return assign_case(wh, case_id, assignee, analyst_id or self.settings.analyst,
                               self.clock())  # fmt: skip

    def note_case(self, case_id: str, note: str, analyst_id: str | None) -> Case:
        """``sentinel cases note``: a note in the case's audit trail, no contact attempt."""
        with self.connect() as wh:
            return note_case(wh, case_id, note, analyst_id or self.settings.analyst, self.clock())

    def claim_from_queue(
        self,
        analyst_id: str | None,
        *,
        min_category: QueueCategory = "HIGH",
        state: str | None = None,
        overdue: bool = False,
        trigger: str | None = None,
    ) -> QueueItem:
        """``sentinel queue --claim``: the next player nobody else is working, now yours.

        Raises:
            UsageError: No analyst id.
            NotFoundError: Nobody left to claim.
        """
        analyst = validated(ContactNote, {"analyst_id": analyst_id or self.settings.analyst,
                                          "note": ""}).analyst_id  # fmt: skip
        now = self.clock()
        with self.connect() as wh:
            queue = build_queue(
                wh, min_category=min_category, state=state, limit=500, overdue=overdue,
                trigger=trigger, now=now,
            )  # fmt: skip
            return claim_next(wh, queue, str(analyst), self.settings.queue.claim_minutes, now)

    def correct_contact(
        self, case_id: str, event_id: str, reason: str, analyst_id: str | None
    ) -> Case:
        """``sentinel cases correct``: withdraw a contact attempt logged by mistake."""
        with self.connect() as wh:
            return correct_contact(
                wh, case_id, event_id, reason, analyst_id or self.settings.analyst, self.clock()
            )

    def close_case(self, case_id: str, reason: str, analyst_id: str | None) -> Case:
        """``sentinel cases close``: close once the player has been clear long enough."""
        with self.connect() as wh:
            policy = self._policy(get_case(wh, case_id, self.clock()))
            return close_case(
                wh, case_id, reason, analyst_id or self.settings.analyst, policy, self.clock()
            )

    def create_api_key(
        self, analyst_id: str, role: Role, *, expires_in: str | None = None
    ) -> NewApiKey:
        """``sentinel api-keys create``: a new key, shown once (``expires_in``: 90d, 12h ...).

        Raises:
            UsageError: A bad analyst id or duration.
        """
        now = self.clock()
        with self.connect() as wh:
            return create_key(wh, analyst_id, role, now=now,
                              expires_at=_expiry(expires_in, now))  # fmt: skip

    def rotate_api_key(
        self, key_id: str, *, grace: str = "1h", expires_in: str | None = None
    ) -> NewApiKey:
        """``sentinel api-keys rotate``: a new key for the same analyst and role, shown once.

        The old one works for ``grace`` more, then stops.

        Raises:
            NotFoundError: No such key.
            ConflictError: It is revoked.
            UsageError: A bad duration.
        """
        now = self.clock()
        period = _expiry(grace, now)
        with self.connect() as wh:
            return rotate_key(wh, key_id, grace=(period or now) - now, now=now,
                              expires_at=_expiry(expires_in, now))  # fmt: skip

    def api_keys(self) -> list[ApiKey]:
        """``sentinel api-keys list``: every key, never the key itself."""
        with self.connect() as wh:
            return list_keys(wh)

    def revoke_api_key(self, key_id: str) -> ApiKey:
        """``sentinel api-keys revoke``: the key stops authenticating."""
        with self.connect() as wh:
            return revoke_key(wh, key_id, now=self.clock())

    def authenticate_api_key(self, presented: str) -> ApiKey | None:
        """The API's authentication: the active key (or console session) behind ``presented``."""
        idle = timedelta(minutes=self.settings.api.session_idle_minutes)
        with self.connect() as wh:
            return authenticate(wh, presented, idle=idle, now=self.clock())

    def start_console_session(self, key: ApiKey) -> str:
        """The console's sign-in: an opaque session token for a checked key (the cookie)."""
        api = self.settings.api
        with self.connect() as wh:
            return start_session(
                wh, key, idle=timedelta(minutes=api.session_idle_minutes),
                lifetime=timedelta(hours=api.session_hours), now=self.clock(),
            )  # fmt: skip

    def end_console_session(self, token: str) -> None:
        """The console's sign-out: the session's token stops authenticating."""
        with self.connect() as wh:
            end_session(wh, token, now=self.clock())

    def run_demo(
        self,
        directory: Path,
        *,
        players: int = 2000,
        days: int = 90,
        seed: int = 7,
        force: bool = False,
        progress: Progress = None,
    ) -> DemoResult:
        """``sentinel demo``: generate, ingest and score synthetic data in a new embedded warehouse.

        The demo's warehouse replaces this application's: ``directory/sentinel.duckdb``.

        Args:
            directory: Where the demo lives (data files and warehouse).
            players: Synthetic players.
            days: Days of history.
            seed: Random seed.
            force: Replace an existing demo warehouse.
            progress: Called with a status line at each step.

        Returns:
            The run, the queue and the top player's assessment.

        Raises:
            UsageError: A warehouse already exists there and ``force`` was not given.
            SentinelError: The scoring run failed or its checks did (as ``score-batch``).
        """
        say = progress or (lambda _msg: None)
        db = directory / "sentinel.duckdb"
        if db.exists() and not force:
            raise UsageError(
                f"{db} already exists; the demo never touches an existing warehouse",
                "Pass --force to replace it, or --dir to use another folder.",
            )
        if force:
            db.unlink(missing_ok=True)
            db.with_name(db.name + ".wal").unlink(missing_ok=True)
            shutil.rmtree(directory / "data", ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        settings = self.settings.model_copy(deep=True)
        settings.warehouse.backend = "duckdb"
        settings.warehouse.duckdb.path = db
        demo = Sentinel(settings, clock=self.clock)
        as_of = self.clock().replace(minute=0, second=0, microsecond=0)
        say(f"generating {players:,} players x {days} days")
        generated = Sentinel.generate_files(
            directory / "data", players, days, seed, as_of, families="all"
        )
        say("loading")
        demo.initialise()
        for kind in ("bets", "assessments", "outcomes", "payments", "account_events"):
            demo.load_files(kind, [generated.files[kind]])
        say("scoring with dbt")
        run = demo.run_scoring(as_of=as_of)
        if (failure := run.failure()) is not None:  # a demo that scored nothing says so
            raise failure
        say("reading the queue")
        queue = demo.review_queue(min_category="HIGH", limit=10)
        top = None
        if queue.items:
            top = demo.analyze_player(queue.items[0].player_id, with_history=True, explain=True)
        return DemoResult(
            directory=str(directory),
            warehouse=str(db),
            bets=generated.bets,
            players=players,
            run=run,
            queue=queue,
            top_player=top,
        )


def _expiry(duration: str | None, now: datetime) -> datetime | None:
    """``now`` plus a duration like 30m, 12h or 90d (None: no expiry).

    Raises:
        UsageError: Another shape.
    """
    if duration is None:
        return None
    try:
        return now + parse_age(duration)
    except ValueError as exc:
        raise UsageError(str(exc), "e.g. --expires-in 90d") from None
