"""Create the demo users, one per role, and optionally N realistic encounters.

    python manage.py seed_demo [--encounters N] [--seed S] [--coded-share 0.5]

Encounters are discharged between --from and --to (default: the six months the
bundled code sets, grouper and DRG weights all cover, 2026-04-01 to 2026-09-30).

Refused unless DEBUG or DEV_MODE is on: demo accounts never exist in production.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import DEMO_USERS, demo_users_ensure


class Command(BaseCommand):
    help = "Create or reset the demo users (coder, supervisor, admin) and print their passwords."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be created; change nothing.",
        )
        parser.add_argument(
            "--credentials-file",
            default=str(Path(settings.BASE_DIR) / "var" / "demo_credentials.json"),
            help="Where the generated passwords are kept between runs (mode 0600).",
        )
        parser.add_argument(
            "--encounters",
            type=int,
            default=0,
            metavar="N",
            help="Also create N realistic encounters on the loaded code sets.",
        )
        parser.add_argument(
            "--encounters-if-none",
            type=int,
            default=0,
            metavar="N",
            help="Create N encounters only when there are none yet (`make run`).",
        )
        parser.add_argument(
            "--skip-users",
            action="store_true",
            help="Leave the demo users alone (they exist already).",
        )
        parser.add_argument(
            "--submitted-share",
            type=float,
            default=0.0,
            help="Share of all the encounters the demo coder has already submitted "
            "(picked among the coded ones); they are audited at once (fills the audit "
            "queue and the accuracy table).",
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed.")
        parser.add_argument(
            "--coded-share",
            type=float,
            default=0.5,
            help="Share of encounters that arrive with proposed codes (0-1).",
        )
        parser.add_argument(
            "--from",
            dest="first",
            type=dt.date.fromisoformat,
            default=dt.date(2026, 4, 1),
        )
        parser.add_argument(
            "--to",
            dest="last",
            type=dt.date.fromisoformat,
            default=dt.date(2026, 9, 30),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.DEBUG or settings.DEV_MODE):
            raise CommandError(
                "seed_demo only runs with DEBUG or DEV_MODE on: demo accounts never go to production."
            )
        if options["dry_run"]:
            for username, role, _first, _last in DEMO_USERS:
                self.stdout.write(
                    f"would ensure user {username!r} with role {role.label}"
                )
            if options["encounters"]:
                self.stdout.write(f"would create {options['encounters']} encounters")
            return
        if not options["skip_users"]:
            passwords = demo_users_ensure(
                credentials_file=Path(options["credentials_file"])
            )
            self.stdout.write("Demo users (development only):")
            for username, role, _first, _last in DEMO_USERS:
                self.stdout.write(
                    f"  {role.label:<15} user: {username:<11} password: {passwords[username]}"
                )
        if options["encounters_if_none"] and not options["encounters"]:
            from encounters.models import Encounter

            if not Encounter.objects.exists():
                options["encounters"] = options["encounters_if_none"]
        if options["encounters"] > 0:
            self._encounters(options)

    def _encounters(self, options: dict[str, Any]) -> None:
        from encounters.dates import service_date_problem
        from encounters.demo import demo_encounters_create

        if options["last"] < options["first"]:
            raise CommandError("--to is before --from.")
        for flag, day in (("--from", options["first"]), ("--to", options["last"])):
            if problem := service_date_problem(day):
                raise CommandError(f"{flag}: {problem}")
        created, problems = demo_encounters_create(
            count=options["encounters"],
            first_discharge=options["first"],
            last_discharge=options["last"],
            seed=options["seed"],
            coded_share=options["coded_share"],
            progress=lambda n: self.stdout.write(f"  ... {n} encounters"),
        )
        self.stdout.write(
            f"Created {created} demo encounters discharged {options['first']} to "
            f"{options['last']}."
        )
        from encounters.demo import demo_payment_rates_ensure

        first, last = options["first"], options["last"]
        rated = demo_payment_rates_ensure(
            range(first.year + (first.month >= 10), last.year + (last.month >= 10) + 1)
        )
        if rated:
            self.stdout.write(
                "Illustrative IPPS rates (demo figures, not CMS's) set for "
                + ", ".join(rated)
                + ": replace them with your own (Code sets -> Payment rates)."
            )
        if options["submitted_share"] > 0:
            from encounters.demo import demo_encounters_submit

            routed = demo_encounters_submit(
                share=options["submitted_share"], seed=options["seed"]
            )
            self.stdout.write(
                "Submitted and audited as the demo coder: "
                + ", ".join(f"{n} {status}" for status, n in sorted(routed.items()))
                + "."
            )
        for problem in problems[:20]:
            self.stderr.write(f"  note: {problem}")
