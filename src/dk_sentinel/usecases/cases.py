"""Cases with a regulatory clock.

Listed most urgent first, contacted, contested, reopened, assigned, noted, corrected, closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dk_sentinel.interventions.cases import (
    Case,
    PackPolicy,
    assign_case,
    close_case,
    contest_case,
    correct_contact,
    get_case,
    list_cases,
    log_contact,
    note_case,
    reopen_case,
)
from dk_sentinel.jurisdictions import selected_packs
from dk_sentinel.vocabulary import CaseState, ContactResult

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import UseCases


class Cases(UseCases):
    """``sentinel cases ...`` and ``/api/cases``."""

    def find(
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

    def get(self, case_id: str) -> Case:
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

    def contact(
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

    def contest(self, case_id: str, reason: str, analyst_id: str | None) -> Case:
        """``sentinel cases contest``: the trigger is disputed (with why)."""
        with self.connect() as wh:
            return contest_case(wh, case_id, reason, analyst_id or self.settings.analyst,
                                self.clock())  # fmt: skip

    def reopen(self, case_id: str, reason: str, analyst_id: str | None) -> Case:
        """``sentinel cases reopen``: a closed case is worked again (with why)."""
        with self.connect() as wh:
            return reopen_case(wh, case_id, reason, analyst_id or self.settings.analyst,
                               self.clock())  # fmt: skip

    def assign(self, case_id: str, assignee: str, analyst_id: str | None) -> Case:
        """``sentinel cases assign``: who works the case from now on."""
        with self.connect() as wh:
            return assign_case(wh, case_id, assignee, analyst_id or self.settings.analyst,
                               self.clock())  # fmt: skip

    def note(self, case_id: str, note: str, analyst_id: str | None) -> Case:
        """``sentinel cases note``: a note in the case's audit trail, no contact attempt."""
        with self.connect() as wh:
            return note_case(wh, case_id, note, analyst_id or self.settings.analyst, self.clock())

    def correct_contact(
        self, case_id: str, event_id: str, reason: str, analyst_id: str | None
    ) -> Case:
        """``sentinel cases correct``: withdraw a contact attempt logged by mistake."""
        with self.connect() as wh:
            return correct_contact(
                wh, case_id, event_id, reason, analyst_id or self.settings.analyst, self.clock()
            )

    def close(self, case_id: str, reason: str, analyst_id: str | None) -> Case:
        """``sentinel cases close``: close once the player has been clear long enough."""
        with self.connect() as wh:
            policy = self._policy(get_case(wh, case_id, self.clock()))
            return close_case(
                wh, case_id, reason, analyst_id or self.settings.analyst, policy, self.clock()
            )
