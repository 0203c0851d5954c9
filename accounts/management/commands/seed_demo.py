"""Create the demo users, one per role, for a developer machine (`make run`).

Refused unless DEBUG or DEV_MODE is on: demo accounts never exist in production.
"""

from __future__ import annotations

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
            return
        passwords = demo_users_ensure(
            credentials_file=Path(options["credentials_file"])
        )
        self.stdout.write("Demo users (development only):")
        for username, role, _first, _last in DEMO_USERS:
            self.stdout.write(
                f"  {role.label:<15} user: {username:<11} password: {passwords[username]}"
            )
