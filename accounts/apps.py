from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Role groups are reference data: kept in step with ROLE_PERMISSIONS after every
        # migrate, and after every flush (which the test database does between tests).
        post_migrate.connect(role_groups_sync_receiver, sender=self)


def role_groups_sync_receiver(
    sender: AppConfig, using: str = "default", **kwargs: object
) -> None:
    from accounts.services import role_groups_sync

    role_groups_sync(using=using)
