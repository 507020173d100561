"""Train / validation / test splits that keep evaluation honest.

Occupations never cross splits. By default whole ISCO unit groups are held out for
validation and test, so the scores measure occupations of a kind the model never saw.
ESCO reuses some labels across occupations ("osteopath" names two), so after splitting,
any text that also belongs to a later split is removed from the earlier one: no text of
a test occupation appears in train or validation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbhelpers.errors import InputError
from nbhelpers.esco import Taxonomy

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Split:
    """Occupation URIs per split, and the label texts each split may use."""

    uris: dict[str, list[str]]
    labels: dict[str, dict[str, tuple[str, ...]]]  # split -> uri -> usable labels
    hold_out_groups: bool

    def split_of(self) -> dict[str, str]:
        return {uri: name for name, uris in self.uris.items() for uri in uris}

    def counts(self) -> dict[str, int]:
        return {name: len(uris) for name, uris in self.uris.items()}


def split_occupations(taxonomy: Taxonomy, fractions=(0.8, 0.1, 0.1), *,
                      hold_out_groups: bool = True, seed: int = 42,
                      min_occupations: int = 4) -> Split:
    """Split occupations by ``fractions`` (train, validation, test).

    With ``hold_out_groups`` whole unit groups go to validation and test (groups are
    drawn in random order until each split reaches its share of occupations).
    ``min_occupations`` is the smallest validation or test split accepted.
    """
    fractions = _check_fractions(fractions)
    occ = taxonomy.occupations
    rng = np.random.default_rng(seed)
    if hold_out_groups:
        groups = occ.groupby("isco_group").uri.apply(list)
        if len(groups) < 3:
            raise InputError(f"hold_out_groups=True needs at least 3 ISCO unit groups; the "
                             f"data has {len(groups)} (set hold_out_groups=False)")
        order = [groups.index[i] for i in rng.permutation(len(groups))]
        units = [sorted(groups[g]) for g in order]
    else:
        units = [[u] for u in rng.permutation(sorted(occ.uri))]
    uris = _fill(units, len(occ), fractions)
    labels = _disjoint_labels(taxonomy, uris)
    for name in SPLITS[1:]:
        if len(uris[name]) < min_occupations:
            raise InputError(
                f"fractions={fractions}: the {name} split gets {len(uris[name])} occupations "
                f"of {len(occ)} (counting only those with a label no later split uses), fewer "
                f"than the {min_occupations} it needs; use more data or a larger fraction")
    return Split(uris, labels, hold_out_groups)


def _check_fractions(fractions) -> tuple[float, float, float]:
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or any(not 0 < f < 1 for f in values) or abs(sum(values) - 1) > 1e-6:
        raise InputError(f"fractions={fractions!r}: expected three numbers in (0, 1) for "
                         "train, validation and test that sum to 1")
    return values


def _fill(units: list[list[str]], total: int, fractions) -> dict[str, list[str]]:
    """Deal units to test, then validation, until each has its share; the rest is train."""
    uris = {name: [] for name in SPLITS}
    remaining = iter(units)
    for name, fraction in (("test", fractions[2]), ("validation", fractions[1])):
        target = round(total * fraction)
        for unit in remaining:
            uris[name].extend(unit)
            if len(uris[name]) >= target:
                break
    for unit in remaining:
        uris["train"].extend(unit)
    return {name: sorted(u) for name, u in uris.items()}


def _disjoint_labels(taxonomy: Taxonomy, uris: dict[str, list[str]]) -> dict:
    """Labels per occupation, minus any text (case-insensitive) a later split also uses."""
    later: set[str] = set()
    labels = {}
    for name in reversed(SPLITS):  # test keeps everything; train loses most
        own = {}
        for uri in uris[name]:
            kept = tuple(t for t in taxonomy.labels(uri) if t.lower() not in later)
            if kept:
                own[uri] = kept
        labels[name] = own
        later |= {t.lower() for uri in uris[name] for t in taxonomy.labels(uri)}
        later |= {taxonomy.occupations.at[uri, "description"].lower() for uri in uris[name]}
    for name in SPLITS:  # an occupation with no label of its own left is dropped
        uris[name][:] = [u for u in uris[name] if u in labels[name]]
    return {name: labels[name] for name in SPLITS}
