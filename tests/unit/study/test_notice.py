"""The privacy notice is rendered from the study: every promise of the published notice appears, and the
data dictionary drives the categories it lists."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cscvault.errors import UsageError
from cscvault.study import default_study_path, load_study, parse_study
from cscvault.study.notice import render_notice

DEFAULT = default_study_path()
DICTIONARY = (DEFAULT.parent / "data_dictionary.toml").read_text(encoding="utf-8")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'")).casefold()


@pytest.fixture(scope="module")
def seed_notice(test_data: Path) -> str:
    return (test_data / "privacy-notice" / "privacy-notice.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=["md", "html"])
def rendered(request: pytest.FixtureRequest) -> str:
    text = render_notice(load_study(), request.param)
    if request.param == "html":
        text = _html_text(text)
    return _norm(text)


def _html_text(html: str) -> str:
    parts: list[str] = []

    class P(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    P(convert_charrefs=True).feed(html)
    return " ".join(parts)


def _seed_facts(seed: str) -> list[str]:
    """Facts lifted from the published notice itself: contact values, LA names, ICO address lines."""
    facts = []
    for key in (
        "Name",
        "Phone Number",
        "E-mail",
        "Data Protection Officer Name",
        "Data Protection Officer E-mail",
    ):
        m = re.search(rf"^{re.escape(key)}: (.+)$", seed, re.M)
        assert m, key
        facts.append(m.group(1).strip())
    address = re.search(r"^Address: (.+)$", seed, re.M)
    assert address
    facts += [part.strip() for part in address.group(1).split(",")]
    las = re.search(r"namely (.+?)\.", seed)
    assert las
    facts += [n.strip() for n in re.split(r",\s*(?:and\s+)?|\s+and\s+", las.group(1)) if n.strip()]
    ico = seed[seed.index("The ICO's address:") :]
    facts += [line.strip() for line in ico.splitlines()[1:] if line.strip() and ":" not in line and "<" not in line]
    helpline = re.search(r"Helpline number: (.+)$", seed, re.M)
    assert helpline
    facts.append(helpline.group(1).strip())
    return facts


# The published notice's promises, as phrases each rendering must contain (case-insensitive).
PROMISES = {
    "five local authorities in England": ["5 local authorities in england"],
    "data from 2019 to the end of 2025": ["2019", "end of 2025"],
    "personal data though pseudonymised": ["counts as personal data", "pseudonymised codes"],
    "tracking codes": ["codes that local authorities' children's social care services use to track children"],
    "social care categories": [
        "referrals",
        "assessments",
        "child in need plans",
        "child protection plans",
        "care proceedings",
        "looked after",
    ],
    "characteristics": ["gender", "ethnicity", "age in months", "disability", "unaccompanied asylum"],
    "education": ["attendance", "free school meals", "pupil premium"],
    "indirect collection from the LAs": ["indirectly", "transferred to us by the local authorities"],
    "purpose": ["impact of the family safeguarding model"],
    "lawful basis": [
        "6(1)(f)",
        "legitimate interest",
        "three-part test",
        "purpose test",
        "necessity test",
        "balancing test",
    ],
    "special category data": [
        "special category data",
        "ethnicity and disability",
        "archiving, scientific or historical research or statistical purposes",
    ],
    "storage": ["encrypted", "password protected"],
    "retention": ["five years after our final reporting", "autumn 2028", "autumn 2033", "securely deleted"],
    "rights": [
        "right of access",
        "right to rectification",
        "incomplete",
        "right to erasure",
        "right to restriction of processing",
        "right to object",
    ],
    "how to make a request": ["by e-mail", "by post", "by telephone"],
    "complaints": [
        "complaint to our data protection officer",
        "complain to the ico",
        "ico website",
        "https://www.ico.org.uk",
    ],
}


@pytest.mark.parametrize("promise", sorted(PROMISES))
def test_every_promise_of_the_published_notice_appears(rendered: str, promise: str) -> None:
    missing = [p for p in PROMISES[promise] if _norm(p) not in rendered]
    assert not missing, f"{promise}: missing {missing}"


def test_every_contact_and_la_of_the_published_notice_appears(rendered: str, seed_notice: str) -> None:
    facts = _seed_facts(seed_notice)
    assert len(facts) >= 20
    missing = [f for f in facts if _norm(f) not in rendered]
    assert not missing


def _study_with_dictionary(text: str) -> str:
    study = parse_study(DEFAULT.read_text(encoding="utf-8"), dictionary_text=text)
    return render_notice(study, "md")


def test_adding_a_category_adds_it_to_the_notice() -> None:
    extra = (
        '\n[[categories]]\nid = "health"\nlabel = "Health visiting records"\n'
        'description = "Contacts with the health visiting service."\nfields = ["health_visits.visit_date"]\n'
    )
    before = _study_with_dictionary(DICTIONARY)
    after = _study_with_dictionary(DICTIONARY + extra)
    assert "Health visiting records" not in before
    assert "Health visiting records: Contacts with the health visiting service." in after


def test_removing_a_category_removes_it_from_the_notice() -> None:
    start = DICTIONARY.index('[[categories]]\nid = "education"')
    end = DICTIONARY.index("[[categories]]", start + 1)
    without_education = DICTIONARY[:start] + DICTIONARY[end:]
    assert "free school meals" in _study_with_dictionary(DICTIONARY)
    assert "free school meals" not in _study_with_dictionary(without_education)


def test_removing_special_category_data_removes_that_section() -> None:
    text = DICTIONARY
    text = text[: text.index("special = [")] + text[text.index(']\n\n[[categories]]\nid = "education"') + 2 :]
    rendered = _study_with_dictionary(text)
    assert "Special category data" not in rendered
    assert "Special category data" in _study_with_dictionary(DICTIONARY)


def test_html_escapes_study_values() -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace('name = "Luke Eastwood"', 'name = "<script>x</script>"')
    html = render_notice(parse_study(text), "html")
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;" in html


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="unknown notice format"):
        render_notice(load_study(), "pdf")
