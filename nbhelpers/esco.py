"""Load occupations and ISCO-08 groups from an ESCO CSV export (or the project's sample).

ESCO (European Skills, Competences, Qualifications and Occupations) describes about 3,000
occupations, each with a preferred label, alternative labels and a description, and files
each one under a 4-digit ISCO-08 *unit group*. ISCO-08 is a hierarchy: the first digit is
the major group, two digits the sub-major group, three the minor group, four the unit group.

The official export and ``data/sample`` share one schema and load through :func:`load_esco`.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.paths import project_root

#: File names tried, in order, for each table: the official export, then the sample's.
OCCUPATION_FILES = ("occupations_en.csv", "occupations.csv")
GROUP_FILES = ("ISCOGroups_en.csv", "isco_groups.csv")
OCCUPATION_COLUMNS = ("conceptUri", "iscoGroup", "preferredLabel", "altLabels", "description")
GROUP_COLUMNS = ("code", "preferredLabel")
#: ISCO-08 levels by code length.
LEVEL_NAMES = {1: "major", 2: "sub_major", 3: "minor", 4: "unit"}


def sample_dir() -> Path:
    """The embedded default: ``data/sample`` in this repository."""
    return project_root() / "data" / "sample"


@dataclass(frozen=True)
class Taxonomy:
    """Occupations (one row each) and the ISCO-08 groups they belong to.

    ``occupations`` has columns ``uri, preferred_label, alt_labels`` (tuple of str),
    ``isco_group`` (4 digits), ``description``; ``groups`` maps ``code`` to ``label``.
    """

    occupations: pd.DataFrame
    groups: pd.DataFrame
    occupations_file: Path
    groups_file: Path

    def labels(self, uri: str) -> tuple[str, ...]:
        """Preferred label first, then the alternative labels."""
        row = self.occupations.loc[uri]
        return (row.preferred_label, *row.alt_labels)

    def group_label(self, code: str) -> str:
        return self.groups.loc[code, "label"]

    def subset(self, uris) -> "Taxonomy":
        """The same taxonomy restricted to some occupations (groups are kept whole)."""
        return Taxonomy(self.occupations.loc[list(uris)], self.groups,
                        self.occupations_file, self.groups_file)

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first occupations, with the columns the pairs are built from."""
        return self.occupations[["preferred_label", "alt_labels", "isco_group", "description"]].head(n)

    def summary(self) -> dict[str, int]:
        codes = self.occupations.isco_group
        return {
            "occupations": len(self.occupations),
            "labels": int(self.occupations.alt_labels.map(len).sum()) + len(self.occupations),
            **{f"{name}_groups": codes.str[:n].nunique() for n, name in LEVEL_NAMES.items()},
        }


def load_esco(directory: str | Path | None = None) -> Taxonomy:
    """Load an ESCO export folder; ``None`` loads the project's sample in ``data/sample``.

    Every problem raises :class:`InputError` naming the file and row: missing or empty
    files, non-UTF-8 bytes, missing columns, duplicate URIs, blank labels and unit
    groups that are not 4 digits or not listed in the groups file.
    """
    folder = Path(directory) if directory is not None else sample_dir()
    if not folder.is_dir():
        raise InputError(f"ESCO folder {folder} does not exist; expected a folder with "
                         f"{' or '.join(OCCUPATION_FILES)} and {' or '.join(GROUP_FILES)}")
    occ_path = _find(folder, OCCUPATION_FILES)
    grp_path = _find(folder, GROUP_FILES)
    groups = _load_groups(grp_path)
    occupations = _load_occupations(occ_path, set(groups.index))
    _check_parents(grp_path, set(groups.index), occupations)
    return Taxonomy(occupations, groups, occ_path, grp_path)


def _check_parents(path: Path, codes: set[str], occupations: pd.DataFrame) -> None:
    """Every unit group of an occupation needs its major, sub-major and minor group in the
    groups file: the graded pairs and every table by group read them."""
    for code in sorted(set(occupations.isco_group)):
        missing = [code[:n] for n in (1, 2, 3) if code[:n] not in codes]
        if missing:
            first = occupations.index[occupations.isco_group == code][0]
            raise InputError(f"{path}: no ISCO-08 group {', '.join(missing)}, the parent group(s) of "
                             f"unit group {code} (of occupation {first}); expected every major, "
                             "sub-major and minor group above the occupations' unit groups")


def _find(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"{folder}: no {' or '.join(names)} found (file missing)")


def _read_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """CSV records with the line number each starts on (records may span lines), read strictly.

    A file cut off inside a quoted field (an interrupted download), a row with fewer or more
    fields than the header and a field over the csv module's size limit are each an
    :class:`InputError` naming the file and line: partial data never loads as if complete.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line} (byte {err.start}) is not UTF-8; "
                         "expected a UTF-8 encoded CSV file as ESCO exports it") from None
    if not text.strip():
        raise InputError(f"{path}: file is empty; expected a header row and data rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, start, header = [], 1, None
    try:
        for fields in reader:
            if header is None:
                header = fields
                missing = [c for c in required if c not in header]
                if missing:
                    raise InputError(f"{path}: missing column(s) {missing}; found {header}")
            elif fields:   # a blank line is no record
                if len(fields) != len(header):
                    raise InputError(f"{path}: line {start} has {len(fields)} field(s), the header "
                                     f"{len(header)}; expected one value per column (a row cut short "
                                     "or a stray comma?)")
                rows.append((start, dict(zip(header, fields))))
            start = reader.line_num + 1
    except csv.Error as err:
        limit = csv.field_size_limit()
        reason = (f"a field is longer than the csv module's limit of {limit:,} characters"
                  if "field larger than field limit" in str(err) else
                  "the file ends inside a quoted field (is it cut off, e.g. an interrupted download?)"
                  if "unexpected end of data" in str(err) else str(err))
        raise InputError(f"{path}: line {start}: not a readable CSV record: {reason}") from None
    if not rows:
        raise InputError(f"{path}: has a header but no data rows")
    return rows


def _load_groups(path: Path) -> pd.DataFrame:
    records = {}
    for line, row in _read_rows(path, GROUP_COLUMNS):
        code = row["code"].strip()
        if not (code.isdigit() and 1 <= len(code) <= 4):
            raise InputError(f"{path}: line {line}: code {code!r} is not an ISCO-08 code "
                             "(expected 1 to 4 digits)")
        if code in records:
            raise InputError(f"{path}: line {line}: duplicate group code {code}")
        records[code] = row["preferredLabel"].strip()
    return pd.DataFrame({"label": records}).rename_axis("code")


def _load_occupations(path: Path, group_codes: set[str]) -> pd.DataFrame:
    records, seen = [], {}
    for line, row in _read_rows(path, OCCUPATION_COLUMNS):
        uri, code = row["conceptUri"].strip(), row["iscoGroup"].strip()
        where = f"{path}: line {line}"
        if not uri:
            raise InputError(f"{where}: empty conceptUri")
        if uri in seen:
            raise InputError(f"{where}: duplicate conceptUri {uri} (first on line {seen[uri]})")
        seen[uri] = line
        preferred = row["preferredLabel"].strip()
        if not preferred:
            raise InputError(f"{where}: empty preferredLabel for {uri}")
        if not (code.isdigit() and len(code) == 4):
            raise InputError(f"{where}: iscoGroup {code!r} of {uri} is not a 4-digit "
                             "ISCO-08 unit group code")
        if code not in group_codes:
            raise InputError(f"{where}: iscoGroup {code} of {uri} has no matching group "
                             "in the ISCO groups file")
        alts = tuple(dict.fromkeys(
            a.strip() for a in row["altLabels"].split("\n")
            if a.strip() and a.strip().lower() != preferred.lower()))
        records.append({"uri": uri, "preferred_label": preferred, "alt_labels": alts,
                        "isco_group": code, "description": " ".join(row["description"].split())})
    return pd.DataFrame.from_records(records).set_index("uri", drop=False).rename_axis(None)


#: The nine job titles the original USE tutorial plots; every notebook shows them.
TUTORIAL_TITLES = ("Data Scientist", "Data Analyst", "Data Engineer", "Nurse Practitioner",
                   "Registered Nurse", "Medical Assistant", "Social Media Manager",
                   "Marketing Strategist", "Product Marketing Manager")


def locate_titles(taxonomy: Taxonomy, titles=TUTORIAL_TITLES) -> pd.DataFrame:
    """Where each title sits in ISCO-08: the occupation using it as a label, and its groups."""
    by_label = {}
    for uri in taxonomy.occupations.uri:
        for i, label in enumerate(taxonomy.labels(uri)):
            by_label.setdefault(label.lower(), (i, uri))
            if i == 0:  # a preferred label wins over another occupation's alternative one
                by_label[label.lower()] = (0, uri)
    rows = []
    for title in titles:
        _, uri = by_label.get(title.lower(), (None, None))
        code = taxonomy.occupations.at[uri, "isco_group"] if uri else None
        groups = {f"{name.replace('_', '-')} group":
                  code and f"{code[:n]} {taxonomy.group_label(code[:n])}"
                  for n, name in sorted(LEVEL_NAMES.items(), reverse=True)}
        rows.append({"title": title, "occupation": uri and taxonomy.labels(uri)[0], **groups})
    return pd.DataFrame(rows).set_index("title")
