"""Fixtures for the web tests (one vault for the whole session: building it costs a few seconds)."""

from __future__ import annotations

import pytest

from cscvault.web.app import create_app
from tests.web.support import USERS, Signed, WebVault, _signed, build_web_vault


@pytest.fixture(scope="session")
def web_vault(tmp_path_factory: pytest.TempPathFactory) -> WebVault:
    return build_web_vault(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def web_app(web_vault: WebVault):  # type: ignore[no-untyped-def]
    return create_app(web_vault.path, report_dir=web_vault.report_dir)


@pytest.fixture(scope="session")
def as_role(web_app):  # type: ignore[no-untyped-def]
    """Signed-in clients per role, created once: as_role("dpo")."""
    made: dict[str, Signed] = {}
    gens = []

    def get(role: str) -> Signed:
        if role not in made:
            gen = _signed(web_app, USERS[role])
            gens.append(gen)
            made[role] = next(gen)
        return made[role]

    yield get
    for gen in gens:
        gen.close()
