"""An import's rows, checked one by one: what a customer or visit row asks for, or why it is
rejected. The rules are the single commands' (`validation`), worded for a report.

Cells written by our exports carry one more `'` before a leading `=`, `+`, `-`, `@`, tab or
carriage return (so spreadsheets do not run them as formulas); `crm.csv_format.unescaped` takes
it off here, so an export imports back unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from crm.csv_format import unescaped
from crm.write_model import validation
from crm.write_model.errors import InvalidInput
from crm.write_model.import_files import Row
from crm.write_model.vocabulary import EmailConsent

MAX_EXTERNAL_ID_LENGTH = 200
_SPEND = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")
_CENTS = re.compile(r"^-?\d{1,15}$")


@dataclass(frozen=True)
class Rejection:
    """A row that is not imported, and why (`field`: the column at fault)."""

    line: int
    field: str
    reason: str

    def as_json(self) -> dict:
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class CustomerRow:
    line: int
    email: str
    first_name: str
    last_name: str
    consent: EmailConsent | None  # None: the column is empty or absent (new customers subscribe)
    external_id: str | None

    @property
    def keys(self) -> list[tuple[str, str]]:
        """What two rows of one file must not share."""
        keys = [("email", validation.normalised_email(self.email))]
        return keys + ([("external_id", self.external_id)] if self.external_id else [])


@dataclass(frozen=True)
class VisitRow:
    line: int
    email: str | None  # the customer, by email or else by external id
    external_id: str | None
    spend_cents: int
    visited_at: datetime
    external_visit_id: str | None

    @property
    def keys(self) -> list[tuple[str, str]]:
        if self.external_visit_id:
            return [("external_visit_id", self.external_visit_id)]
        customer = f"email:{validation.normalised_email(self.email)}" if self.email else f"id:{self.external_id}"
        return [("visit", f"{customer}|{self.spend_cents}|{self.visited_at.isoformat()}")]


def customer_row(row: Row) -> CustomerRow | Rejection:
    cells = {name: unescaped(value) for name, value in row.cells.items()}
    try:
        if not cells.get("email"):
            return Rejection(row.line, "email", "missing email")
        try:
            email = validation.email(cells["email"])
        except InvalidInput:
            return Rejection(row.line, "email", "invalid email")
        first_name = validation.text(cells.get("first_name", ""), "first_name", required=False)
        last_name = validation.text(cells.get("last_name", ""), "last_name", required=False)
        consent = _consent(cells.get("email_consent", ""))
        if consent is False:
            return Rejection(row.line, "email_consent", "invalid email_consent: use subscribed or unsubscribed")
        return CustomerRow(row.line, email, first_name, last_name, consent, _external_id(cells, "external_id"))
    except InvalidInput as error:
        return Rejection(row.line, error.field, f"invalid {error.field}: {error.message}")


def visit_row(row: Row, zone: ZoneInfo, now: datetime) -> VisitRow | Rejection:
    cells = {name: unescaped(value) for name, value in row.cells.items()}
    try:
        email = cells.get("email") or None
        external_id = _external_id(cells, "external_id")
        if email is None and external_id is None:
            return Rejection(row.line, "email", "missing email or external_id")
        if email is not None:
            try:
                email = validation.email(email)
            except InvalidInput:
                return Rejection(row.line, "email", "invalid email")
        spend = _spend(cells)
        if isinstance(spend, Rejection):
            return Rejection(row.line, spend.field, spend.reason)
        visited_at = _visited_at(cells.get("visited_at", ""), zone, now)
        if isinstance(visited_at, str):
            return Rejection(row.line, "visited_at", visited_at)
        return VisitRow(row.line, email, external_id, spend, visited_at, _external_id(cells, "external_visit_id"))
    except InvalidInput as error:
        return Rejection(row.line, error.field, f"invalid {error.field}: {error.message}")


class SeenInFile:
    """The keys of the file's rows so far, to reject a row that repeats an earlier one.

    Keys are kept as their 64-bit hashes (the whole file is read again in each run, so the
    per-process hash is enough): a million customer rows take about 200 MB while they are read.
    """

    def __init__(self):
        self._first: dict[int, int] = {}

    def check(self, parsed: CustomerRow | VisitRow) -> Rejection | None:
        for field, key in parsed.keys:
            first = self._first.setdefault(hash((field, key)), parsed.line)
            if first != parsed.line:
                return Rejection(parsed.line, field, f"duplicate in file (first at line {first})")
        return None


def _consent(value: str) -> EmailConsent | None | bool:
    if not value:
        return None
    try:
        return EmailConsent(value.lower())
    except ValueError:
        return False


def _external_id(cells: dict[str, str], field: str) -> str | None:
    value = cells.get(field, "")
    if not value:
        return None
    return validation.text(value, field, max_length=MAX_EXTERNAL_ID_LENGTH)


def _spend(cells: dict[str, str]) -> int | Rejection:
    if cells.get("spend_cents"):
        field, value = "spend_cents", cells["spend_cents"]
        if not _CENTS.match(value):
            return Rejection(0, field, "invalid spend: a whole number of cents")
        cents = int(value)
    elif cells.get("spend"):
        field, value = "spend", cells["spend"]
        if not _SPEND.match(value):
            return Rejection(0, field, "invalid spend: a decimal number with a dot, such as 12.50")
        whole, _, fraction = value.lstrip("-").partition(".")
        cents = int(whole) * 100 + int(fraction.ljust(2, "0") or 0)
        cents = -cents if value.startswith("-") else cents
    else:
        return Rejection(0, "spend_cents", "missing spend_cents or spend")
    if cents < 0:
        return Rejection(0, field, "negative spend")
    if cents > validation.MAX_VISIT_SPEND_CENTS:
        return Rejection(0, field, f"spend above {validation.MAX_VISIT_SPEND_CENTS} cents")
    return cents


def _visited_at(value: str, zone: ZoneInfo, now: datetime) -> datetime | str:
    """The visit's time in UTC, or why it is refused. Without an offset: the restaurant's local time."""
    if not value:
        return "missing visited_at"
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time(0))
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        return "invalid date: use ISO 8601, such as 2026-03-01T19:30:00+01:00 or 2026-03-01"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return validation.visit_time(parsed, now)
    except InvalidInput as error:
        if "future" in error.message:
            return "date in the future"
        return f"invalid date: {error.message}"
