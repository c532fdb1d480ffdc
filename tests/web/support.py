"""One test vault for the web tests: users of every role, child-level stand-in tables with planted LA ids,
rights requests and complaints in several states, and an analysis report folder."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from cscvault import api
from cscvault.rights import complaints as rights_complaints, requests as rights_requests
from cscvault.study import default_study_path, load_study
from cscvault.synth.generate import generate
from cscvault.vault import Credentials
from cscvault.web.auth import SESSION_COOKIE
from tests.helpers import PASSWORD, open_raw_vault

ADMIN = Credentials("admin", PASSWORD)
DPO = Credentials("dee", "dpo password 123")
ANALYST = Credentials("ana", "analyst password 1")
CHECKER = Credentials("cara", "checker password 1")
CHECKER2 = Credentials("carl", "checker password 2")
USERS = {"admin": ADMIN, "dpo": DPO, "analyst": ANALYST, "checker": CHECKER}
WALSALL = "E08000030"
# The LA's own child ids: distinctive strings that must never appear on a page.
LA_IDS = [f"WALZQ{i:05d}X" for i in range(12)]
PLANTED_DATE = dt.date(2021, 3, 17)


@dataclass(frozen=True)
class WebVault:
    path: Path
    report_dir: Path
    child_keys: list[str]
    access_request: str  # an identified access request the browser test acts on
    releases: list[str]  # requested by the analyst 'ana'
    synth_ids: list[str]  # LA child ids and referral ids from the ingested synthetic returns
    review_release: str  # requested by 'ana': a report, a table with a failing cell, and a plot of that table


def build_web_vault(root: Path) -> WebVault:
    folder = root / "study"
    folder.mkdir()
    default = default_study_path()
    (folder / "study.toml").write_text(default.read_text())
    extra = (
        '\n[[categories]]\nid = "test_records"\nlabel = "Test records"\ndescription = "Rows for the tests."\n'
        'fields = ["test_people.gender", "test_people.ethnicity", "test_events.event_date"]\n'
    )
    (folder / "data_dictionary.toml").write_text((default.parent / "data_dictionary.toml").read_text() + extra)
    path = api.init_vault(root / "v", PASSWORD, study_path=folder / "study.toml").path
    for role, creds in (("dpo", DPO), ("analyst", ANALYST), ("checker", CHECKER), ("checker", CHECKER2)):
        api.add_user(path, ADMIN, creds.user, role, creds.secret)
    # Real returns through real ingest: deliveries, findings and linkage to show, and real LA child ids.
    synth = generate(root / "synth", seed=3, children=100, formats="dr")
    api.ingest(path, ADMIN, [synth.returns_dir])
    with synth.truth_path.with_name("truth_sample.csv").open() as fh:
        sample = list(csv.DictReader(fh))[:60]
    # A short numeric id can be a substring of a public code (Lancashire is E10000017): leave those out.
    public = " ".join(f"{la.ons_code} {la.dfe_code}" for la in load_study().local_authorities)
    synth_ids = [i for r in sample for i in (r["la_child_id"], r["referral_id"]) if i not in public]
    keys = []
    with open_raw_vault(path, ADMIN) as v:
        keys += [v.child_key(r["la_code"], r["la_child_id"]) for r in sample]
    with open_raw_vault(path, ADMIN) as v, v.transaction() as con:
        con.execute("CREATE TABLE test_people (child_key VARCHAR, gender VARCHAR, ethnicity VARCHAR)")
        con.execute("CREATE TABLE test_events (child_key VARCHAR, event_date DATE, kind VARCHAR)")
        for i, la_id in enumerate(LA_IDS):
            key = v.child_key(WALSALL, la_id)
            keys.append(key)
            con.execute("INSERT INTO test_people VALUES (?, ?, ?)", [key, "F" if i % 2 else "M", "WBRI"])
            con.execute("INSERT INTO test_events VALUES (?, ?, ?)", [key, PLANTED_DATE, "referral"])
        v.record("test.load", counts={"children": len(LA_IDS)})
    with open_raw_vault(path, ADMIN) as v:
        v.con.execute("SELECT 1")
    received = dt.date.today() - dt.timedelta(days=3)
    with open_raw_vault(path, DPO) as v:

        def log(type_: str, la_id: str, on: dt.date, identified: dt.date | None) -> str:
            return rights_requests.open_request(v, type_, "Walsall", la_id, on, identified).request_id

        access = log("access", LA_IDS[0], received, received)
        log("access", LA_IDS[1], received, received)
        log("erasure", LA_IDS[2], received, None)  # awaiting identification
        restricted = log("restriction", LA_IDS[3], received, received)
        for i in range(27):  # more than one page of the register
            log("objection", LA_IDS[4 + i % 6], received - dt.timedelta(days=40), None)
        complaint = rights_complaints.open_complaint(v, received, "CASE-1")
        rights_complaints.acknowledge(v, complaint.complaint_id, received)
        rights_complaints.open_complaint(v, received, "CASE-2")
    api.rights_act(path, DPO, restricted)
    outputs = root / "outputs"
    outputs.mkdir()
    table = outputs / "referrals_by_la.csv"
    table.write_text("la,period,referrals\nWalsall,2021-Q1,120\nWalsall,2021-Q2,135\nDerby,2021-Q1,98\n")
    from cscvault.vault.run_outputs import RunOutput, store_outputs

    _store_review_outputs(path)  # first: the console's /report shows the newest run's report.html
    with open_raw_vault(path, ADMIN) as v:  # a release names a run's stored outputs
        report_html = (
            b"<!doctype html><html><head><style>body{color:#000}</style></head>"
            b"<body><h1>Primary analysis</h1><p>odds ratio 0.81</p></body></html>"
        )
        store_outputs(
            v, "0123456789ab", "test", "0" * 64,
            [RunOutput(table.name, "table", table.read_bytes()), RunOutput("report.html", "html", report_html)],
        )  # fmt: skip
    releases = [api.release_request(path, ANALYST, [table], f"quarterly table {i}").release_id for i in range(3)]
    review_release = request_review_release(path)
    report_dir = root / "reports"
    (report_dir / "run1").mkdir(parents=True)
    (report_dir / "run1" / "report.html").write_text(
        "<!doctype html><html><head><style>body{color:#000}</style></head>"
        "<body><h1>Primary analysis</h1><p>odds ratio 0.81</p></body></html>"
    )
    return WebVault(path, report_dir, keys, access, releases, synth_ids, review_release)


REVIEW_RUN = "abcdef012345"
# The report tries everything a sandboxed frame must stop: a script, an event handler and a form.
REVIEW_REPORT = (
    b"<!doctype html><html><head><style>h1{color:#036}</style></head><body><h1>Release review report</h1>"
    b"<p id='said'>odds ratio 0.81</p><script>document.getElementById('said').textContent='script ran'</script>"
    b"<img src=x alt='' onerror=\"document.getElementById('said').textContent='handler ran'\"></body></html>"
)
# 3 referrals in Derby 2021-Q2 is under every profile's threshold: that cell fails, with its reason.
REVIEW_TABLE = b"la,period,referrals\nWalsall,2021-Q1,120\nWalsall,2021-Q2,135\nDerby,2021-Q1,98\nDerby,2021-Q2,3\n"


def tiny_png() -> bytes:
    """A valid 2x2 grey PNG, written by hand (no plotting library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


REVIEW_NAMES = ("review_report.html", "quarterly.csv", "quarterly.png")


def _store_review_outputs(path: Path) -> None:
    """Three stored outputs of one run: a report, a table with a failing cell, and a plot of that table."""
    from cscvault.vault.run_outputs import RunOutput, store_outputs

    outputs = [
        RunOutput(REVIEW_NAMES[0], "html", REVIEW_REPORT, {"title": "analysis report"}),
        RunOutput(REVIEW_NAMES[1], "table", REVIEW_TABLE, {"title": "referrals by LA and quarter"}),
        RunOutput(REVIEW_NAMES[2], "figure", tiny_png(), {"title": "referrals by quarter", "data": REVIEW_NAMES[1]}),
    ]
    with open_raw_vault(path, ADMIN) as v:
        store_outputs(v, REVIEW_RUN, "test", "1" * 64, outputs)


def request_review_release(path: Path, why: str = "report, table and plot for review") -> str:
    """A release (requested by 'ana') of the review run's report, table and plot."""
    return api.release_request(path, ANALYST, [f"{REVIEW_RUN}:{n}" for n in REVIEW_NAMES], why).release_id


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, creds: Credentials) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"user": creds.user, "password": creds.secret, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    # The session's CSRF token, read from the server's store (saves a page load per login).
    session = client.app.state.console.sessions.get(client.cookies.get(SESSION_COOKIE))  # type: ignore[attr-defined]
    return session.csrf


@dataclass
class Signed:
    client: TestClient
    csrf: str


def _signed(app, creds: Credentials) -> Iterator[Signed]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Signed(client, login(client, creds))
