"""Header detection and column mapping shared by the tabular readers (DR returns, 903, school census).

Columns are matched by label (normalised), never by position. Every column not mapped to a
canonical field is dropped at read time and reported by name: as an identifier (ID-001), a date of
birth not needed (ID-001) or a field outside the data dictionary (MIN-001).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from cscvault.formats.base import Collector, clean_cell, normalise_label, screen_cell
from cscvault.formats.identifiers import identifier_kind, is_birth_column

BIRTH_FIELDS = frozenset({"birth_month", "birth_date"})


@dataclass
class ColumnMap:
    header_row: int
    fields: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)
    width: int = 0


def alias_index(aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Normalised label -> canonical field."""
    out: dict[str, str] = {}
    for name, labels in aliases.items():
        for label in labels:
            out.setdefault(normalise_label(label), name)
    return out


def find_header(
    rows: Sequence[Sequence[object]],
    aliases: Mapping[str, Sequence[str]],
    search_rows: int,
    min_matches: int,
    extra: Callable[[str], str | None] | None = None,
) -> int | None:
    """The row (0-based) among the first `search_rows` matching most aliases (and columns the
    `extra` matcher recognises), if enough match."""
    index = alias_index(aliases)
    best, best_row = 0, None
    for i, row in enumerate(rows[:search_rows]):
        cells = [str(c) for c in row if c is not None and str(c).strip()]
        labels = {normalise_label(c) for c in cells}
        hits = len({index[lab] for lab in labels if lab in index})
        if extra is not None:
            hits += len({k for c in cells if (k := extra(c)) is not None})
        if hits > best:
            best, best_row = hits, i
    return best_row if best >= min_matches else None


def map_columns(
    header: Sequence[object],
    aliases: Mapping[str, Sequence[str]],
    sink: Collector,
    *,
    extra: Callable[[str], str | None] | None = None,
    keep_unmapped: Callable[[str], bool] | None = None,
) -> ColumnMap:
    index = alias_index(aliases)
    cmap = ColumnMap(header_row=0, width=len(header))
    seen: set[str] = set()
    for j, cell in enumerate(header):
        raw = clean_cell(cell) or ""
        label = normalise_label(raw)
        shown = raw[:80] if raw else f"(column {j + 1})"
        if label and label in seen:
            sink.add("FMT-006", column=shown)
            continue
        if label:
            seen.add(label)
        name = index.get(label)
        if name is not None and name not in cmap.fields:
            cmap.fields[name] = j
            if name in BIRTH_FIELDS:
                sink.add("ID-002", column=shown)
                sink.drop_column(shown)
            continue
        key = extra(raw) if extra and raw else None
        if key is not None and key not in cmap.extra:
            cmap.extra[key] = j
            continue
        if keep_unmapped and keep_unmapped(raw):
            continue
        if not raw:
            # An unlabelled column: dropped, reported by position.
            sink.add("MIN-001", column=shown)
            sink.drop_column(shown)
            continue
        kind = identifier_kind(raw)
        if kind is None and is_birth_column(raw):
            kind = "a date of birth"
        if kind is not None:
            sink.add("ID-001", column=shown, kind=kind)
        else:
            sink.add("MIN-001", column=shown)
        sink.drop_column(shown)
    return cmap


def records(
    rows: Sequence[Sequence[object]],
    cmap: ColumnMap,
    sink: Collector,
    where: str,
    *,
    first_row_number: int = 1,
    ragged: bool = False,
) -> Iterator[tuple[str, dict[str, str | None], dict[str, str | None]]]:
    """(location, field values, extra values) for each non-empty row under the header."""
    for i in range(cmap.header_row + 1, len(rows)):
        row = rows[i]
        if all(clean_cell(c) is None for c in row):
            continue
        number = i + first_row_number
        loc = f"{where}row {number}"
        if ragged and len(row) != cmap.width:
            sink.add("FMT-011", loc, n_cells=len(row), n_header=cmap.width)
        values = {
            name: screen_cell(clean_cell(row[j]) if j < len(row) else None, sink, loc, name)
            for name, j in cmap.fields.items()
        }
        extras = {
            name: screen_cell(clean_cell(row[j]) if j < len(row) else None, sink, loc, name)
            for name, j in cmap.extra.items()
        }
        yield loc, values, extras
