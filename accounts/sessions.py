"""The idle logoff's clock, kept in the session: when it was last slid forward.

The server is the authority on when a session ends (``SessionIdleMiddleware``);
the page's countdown (static/js/session.js) only shows what these functions say.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

# Epoch seconds of the last slide of the idle logoff.
TOUCHED = "_touched"
# A session touched more recently than this is not written again (a database write
# per keystroke of the encoder's typeahead otherwise); with a short test timeout
# every request slides it.
TOUCH_EVERY_SECONDS = 60


def idle_seconds() -> int:
    return int(settings.SESSION_IDLE_SECONDS)


def warning_seconds() -> int:
    return int(settings.SESSION_IDLE_WARNING_SECONDS)


def _touch_every() -> int:
    return min(TOUCH_EVERY_SECONDS, idle_seconds() // 10)


def session_expires_in(session: SessionBase) -> int:
    """Seconds until the idle logoff: SESSION_IDLE_SECONDS after the last slide.
    A session never slid (signed in, no page yet) has the whole of it."""
    touched = int(session.get(TOUCHED, 0))
    if not touched:
        return idle_seconds()
    return max(0, touched + idle_seconds() - int(time.time()))


def session_is_idle(session: SessionBase) -> bool:
    return bool(session.get(TOUCHED)) and session_expires_in(session) <= 0


def session_touch(session: SessionBase, *, force: bool = False) -> None:
    """Slide the idle logoff to SESSION_IDLE_SECONDS from now: always when
    ``force`` (the page's "Stay signed in"), else at most once a minute."""
    now = int(time.time())
    if force or now - int(session.get(TOUCHED, 0)) >= _touch_every():
        session[TOUCHED] = now  # marks the session modified: saved with a new expiry
