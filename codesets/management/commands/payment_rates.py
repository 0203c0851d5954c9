"""Set a facility's IPPS payment rates for a federal fiscal year (create or replace).

    python manage.py payment_rates --facility F --fiscal-year YYYY --operating D --capital D
                                   [--wage-index D] [--labor-share D] [--gaf D] [--dry-run]

The figures are the facility's own, from the IPPS final rule of that year
(docs/payment.md). A figure left out takes the rule's default, never the previous
value: wage index 1.0, labor share 0.676 (0.62 when the wage index is 1.0 or less),
GAF = wage index ^ 0.6848. Every change is kept (Django admin → Payment rate changes).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from codesets.services import payment_rate_set


def _decimal(option: str) -> Any:
    def parse(value: str) -> Decimal:
        try:
            number = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise CommandError(f"--{option}: {value!r} is not a decimal number")
        return number

    return parse


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "Set a facility's IPPS rates (operating, capital, wage index, labor share, GAF) for a fiscal year."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--facility", required=True, help="as on the encounters")
        parser.add_argument(
            "--fiscal-year", required=True, help="federal fiscal year, e.g. 2026"
        )
        for name, text in (
            ("operating", "operating standardized amount, $ (Tables 1A-1D)"),
            ("capital", "capital federal rate, $ (Table 1D)"),
        ):
            parser.add_argument(f"--{name}", required=True, help=text)
        for name, text in (
            ("wage-index", "wage index (default 1.0)"),
            ("labor-share", "labor-related share (default 0.676, or 0.62 if WI <= 1)"),
            ("gaf", "capital GAF (default wage index ^ 0.6848)"),
        ):
            parser.add_argument(f"--{name}", help=text)
        parser.add_argument(
            "--dry-run", action="store_true", help="check and show; write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["fiscal_year"].strip().upper().removeprefix("FY")
        if not (year.isdigit() and len(year) == 4):
            raise CommandError(
                f"--fiscal-year: {options['fiscal_year']!r} is not a year such as 2026"
            )
        figures: dict[str, Decimal | None] = {
            name: _decimal(name.replace("_", "-"))(options[name])
            if options[name] is not None
            else None
            for name in ("operating", "capital", "wage_index", "labor_share", "gaf")
        }
        if figures["operating"] is None or figures["capital"] is None:
            raise CommandError("--operating and --capital are required")
        facility = options["facility"].strip()
        if not facility:
            raise CommandError("--facility: give the facility as on the encounters")
        try:
            with transaction.atomic():
                result = payment_rate_set(
                    facility=facility,
                    fiscal_year=int(year),
                    operating=figures["operating"],
                    capital=figures["capital"],
                    wage_index=figures["wage_index"],
                    labor_share=figures["labor_share"],
                    gaf=figures["gaf"],
                    via="command",
                )
                if options["dry_run"]:
                    raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            problems = "; ".join(
                f"--{field.replace('_', '-')}: {' '.join(messages)}"
                for field, messages in exc.message_dict.items()
            )
            raise CommandError(f"Nothing was written. {problems}") from exc
        rate = result.rate
        verb = (
            "Created"
            if result.created
            else "Updated"
            if result.changed
            else "Unchanged"
        )
        self.stdout.write(
            f"{verb}: {rate.facility} FY{rate.fiscal_year}: operating {rate.operating}, "
            f"capital {rate.capital}, wage index {rate.wage_index}, labor share "
            f"{rate.labor_share}, GAF {rate.gaf}"
            + (
                f" (defaults: {', '.join(n.replace('_', ' ') for n in result.defaulted)})"
                if result.defaulted
                else ""
            )
        )
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
