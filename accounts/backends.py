"""Authentication backend: Django's ModelBackend, with the permission set of a user
read in one query instead of two.

Every view and API call checks the role (accounts.permissions); Django reads a
user's own permissions and their groups' permissions in two ORM queries the first
time a request asks. Here both come from one plain SQL statement, kept on the user
object for the rest of the request exactly as ModelBackend keeps its own
(``_perm_cache``): what a user may do is the same, one round trip cheaper.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from accounts.models import User


def _permissions_sql() -> str:
    user_perms = User.user_permissions.through._meta.db_table
    user_groups = User.groups.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    return f"""
SELECT ct.app_label, p.codename
FROM {Permission._meta.db_table} p
JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id
WHERE p.id IN (
    SELECT permission_id FROM {user_perms} WHERE user_id = %(user)s
    UNION
    SELECT gp.permission_id FROM {group_perms} gp
    JOIN {user_groups} ug ON ug.group_id = gp.group_id
    WHERE ug.user_id = %(user)s
)
"""  # noqa: S608 - table names from the models' metadata, the user id a parameter


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(_permissions_sql(), {"user": user_obj.pk})
                user_obj._perm_cache = {
                    f"{app_label}.{codename}" for app_label, codename in cursor
                }
        return user_obj._perm_cache
