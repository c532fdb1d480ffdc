"""The console's process state: the vault it serves, its sessions, and one lock around every vault open.

The vault takes an exclusive file lock while open, so two requests must not open it at once: every API call
the console makes goes through `Console.call` or `Console.vault`, which serialise on one lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from cscvault import api
from cscvault.web.auth import LoginLimiter, SessionStore

if TYPE_CHECKING:
    from cscvault.api import Credentials, VaultSession

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Console:
    vault_path: Path
    report_dir: Path | None = None
    study_path: Path | None = None
    secure_cookies: bool = False
    sessions: SessionStore = field(default_factory=SessionStore)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    notice_html: str | None = None  # the vault's own notice once anyone has logged in (public text)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one `api.*` function (it opens and closes the vault itself) under the console's lock."""
        with self._lock:
            return fn(*args, **kwargs)

    @contextlib.contextmanager
    def vault(self, credentials: Credentials) -> Iterator[VaultSession]:
        """Open the vault once for a page that reads several things."""
        with self._lock, api.open_vault(self.vault_path, credentials) as vault:
            yield vault
