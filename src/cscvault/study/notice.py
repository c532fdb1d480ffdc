"""The privacy notice, rendered from the study and its data dictionary.

The content is built once as a list of sections (headings, paragraphs, bullet lists, address blocks)
from the study's facts; Markdown and HTML are two renderings of the same sections. Changing the study
or the data dictionary changes the notice: nothing in it is typed twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources

from jinja2 import Environment, StrictUndefined

from cscvault.errors import UsageError
from cscvault.study.model import Study

FORMATS = ("md", "html")


@dataclass(frozen=True)
class Block:
    kind: str  # "p", "list", "address", "dl"
    items: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()


@dataclass
class Section:
    heading: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)

    def p(self, text: str) -> None:
        self.blocks.append(Block("p", (text,)))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(Block("list", tuple(items)))

    def address(self, lines: tuple[str, ...] | list[str]) -> None:
        self.blocks.append(Block("address", tuple(lines)))

    def facts(self, pairs: list[tuple[str, str]]) -> None:
        self.blocks.append(Block("dl", pairs=tuple(pairs)))


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def notice_sections(study: Study) -> tuple[str, list[Section]]:
    """The notice's title and sections."""
    las = [la.notice_name for la in study.local_authorities]
    ctrl, dpo, ico = study.controller, study.dpo, study.supervisory_authority
    w, r = study.windows, study.retention
    title = f"{study.intervention} privacy notice"
    sections: list[Section] = []

    intro = Section("About this notice", "about")
    intro.p(
        f"This notice explains how we process personal information for our {_lower_first(study.title)}, "
        f"a {study.design}. The research takes place in {len(las)} local authorities in England, "
        f"namely {join_names(las)}."
    )
    if study.protocol_url:
        intro.p(f"More details are in the trial protocol: {study.protocol_url}")
    sections.append(intro)

    who = Section("Our contact details", "contact")
    who.facts(
        [
            ("Name", ctrl.name),
            ("Address", ", ".join(ctrl.address)),
            ("Phone number", ctrl.phone),
            ("E-mail", ctrl.email),
            ("Date this notice was written", long_date(study.notice_written)),
            ("Data Protection Officer", dpo.name),
            ("Data Protection Officer e-mail", dpo.email),
        ]
    )
    sections.append(who)

    what = Section("The personal information we hold", "categories")
    what.p(
        "We process information about children and young people, and their families, who have been referred "
        f"to children's social care in the {len(las)} local authorities listed above. It relates to events "
        f"between {long_date(w.data_start)} and {long_date(w.data_end)} (from {w.data_start.year} to the end of "
        f"{w.data_end.year}); anything outside those dates is refused when it arrives. We cannot tell from the "
        "information who it is about. Combined with other information it could identify someone, so it counts "
        "as personal data."
    )
    what.p("We hold only the following types of information. Children are identified only by pseudonymised codes.")
    what.bullets([f"{c.label}: {c.description}" for c in study.data_dictionary.categories if c.personal])
    non_personal = [c for c in study.data_dictionary.categories if not c.personal]
    if non_personal:
        what.p(
            "We also hold information that is not about any one person: "
            + "; ".join(f"{c.label.lower()}" for c in non_personal)
            + "."
        )
    what.p(
        "Nothing else is kept. Names, addresses, postcodes, dates of birth, pupil numbers, NHS numbers and free "
        "text are removed when the data arrive; a date of birth is turned into an age in months and discarded."
    )
    sections.append(what)

    specials = study.data_dictionary.special_fields
    if specials:
        special = Section("Special category data", "special-category")
        special.p(
            "The information includes special category data, specifically "
            f"{join_names([s.label for s in specials])}. We process it on the condition that it is necessary "
            "for archiving, scientific or historical research or statistical purposes. The condition we rely on is "
            f"{study.special_category.condition}. {study.special_category.reason}"
        )
        sections.append(special)

    why = Section("How we get the personal information and why we have it", "source-and-purpose")
    how = "indirectly: it is " if study.source_collection == "indirect" else "directly: it is "
    why.p(f"We receive all of this information {how}{study.source_description}.")
    why.p(f"We use the information only {study.purpose}.")
    sections.append(why)

    lawful = Section("Our lawful basis", "lawful-basis")
    lb = study.lawful_basis
    lawful.p(
        f"Under the UK General Data Protection Regulation (UK GDPR), the lawful basis we rely on is Article "
        f"{lb.article}: we have a legitimate interest. A legitimate interest must pass a three-part test; "
        "here is how each part is met."
    )
    lawful.facts(
        [
            ("1. Purpose test: are we pursuing a legitimate interest?", lb.purpose_test),
            ("2. Necessity test: is the processing necessary for that purpose?", lb.necessity_test),
            (
                "3. Balancing test: do the individual's interests override the legitimate interest?",
                lb.balancing_test,
            ),
        ]
    )
    sections.append(lawful)

    store = Section("How we store your personal information", "storage")
    store.p(f"The data are stored encrypted and password protected: {study.storage}.")
    store.p(
        f"We keep all of the data for {r.years_text} after our final reporting is complete, "
        f"{r.reason}. We expect final reporting in {r.final_report_label} (by {long_date(r.final_report)}), "
        f"so we will delete all of the data in {r.delete_by_label} (by {long_date(r.delete_by)}). "
        "The data will then be securely deleted: the encryption keys are destroyed and the files "
        "overwritten, and a deletion certificate is kept that contains no personal data."
    )
    sections.append(store)

    rights = Section("Your data protection rights", "rights")
    rights.p("Under data protection law, you have rights including:")
    rights.bullets(
        [
            "Your right of access: you can ask us for copies of your personal information.",
            "Your right to rectification: you can ask us to correct information you think is inaccurate, and to "
            "complete information you think is incomplete.",
            "Your right to erasure: you can ask us to erase your personal information in certain circumstances.",
            "Your right to restriction of processing: you can ask us to restrict the processing of your personal "
            "information in certain circumstances.",
            "Your right to object to processing: you can object to the processing of your personal information "
            "in certain circumstances.",
        ]
    )
    rights.p(
        "Because we hold only pseudonymised codes, we find your information through the local authority that "
        "sent it, which confirms the code it uses for you. We reply within one calendar month of having what we "
        "need to find your information; for complex requests we may extend this by up to two further months and "
        "will tell you why. Where a right is limited because the data are used only for research, we tell you and "
        "record the reason."
    )
    rights.p("If you wish to make a request, contact us:")
    rights.facts(
        [
            ("By e-mail", f"{dpo.email} and {ctrl.email}"),
            ("By post", ", ".join(ctrl.address)),
            ("By telephone", ctrl.phone),
        ]
    )
    sections.append(rights)

    complain = Section("How to complain", "complaints")
    complain.p(
        "If you have any concerns about our use of your personal information, you can make a complaint to our "
        f"Data Protection Officer, {dpo.name}: {dpo.email}. We acknowledge complaints within 30 days."
    )
    complain.p(
        f"You can also complain to the {ico.short_name} if you are unhappy with how we have used your data. "
        f"The {ico.short_name}'s address:"
    )
    complain.address([ico.name, *ico.address])
    complain.facts([("Helpline number", ico.helpline), (f"{ico.short_name} website", ico.website)])
    sections.append(complain)
    return title, sections


def render_notice(study: Study, fmt: str = "md") -> str:
    if fmt not in FORMATS:
        raise UsageError(f"unknown notice format '{fmt}' (use md or html)")
    title, sections = notice_sections(study)
    source = (resources.files("cscvault.study") / "templates" / f"notice.{fmt}.j2").read_text(encoding="utf-8")
    env = Environment(
        # Markdown output is plain text; HTML escapes every study value.
        autoescape=fmt == "html",  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.from_string(source).render(title=title, sections=sections, study=study)
