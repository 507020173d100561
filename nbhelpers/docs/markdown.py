"""Markdown building blocks of the generated tables: cells, tables and the provenance line."""
from __future__ import annotations

import math


def number(value, digits: int = 4) -> str:
    """A figure with ``digits`` decimals; blank when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def signed(value, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.{digits}f}"


def percent_change(value, base) -> str:
    """``+10.2 %``: the relative change of ``value`` against ``base``."""
    if value is None or base in (None, 0):
        return ""
    if any(isinstance(v, float) and math.isnan(v) for v in (value, base)):
        return ""
    return f"{100 * (value / base - 1):+.1f} %"


def seconds(value) -> str:
    return "" if value is None else f"{value:,.0f} s"


def table(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured markdown table (cells are used as given, as text)."""
    def clean(cell) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(clean, header)) + " |",
             "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(map(clean, row)) + " |" for row in rows]
    return "\n".join(lines)


def short_commit(commit) -> str:
    """A commit as the docs show it: seven characters, and ``-dirty`` when it had changes."""
    commit = str(commit or "unknown")
    return commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")


def provenance_line(provenance: dict) -> str:
    """Where the figures of a table come from, as a sentence under it."""
    if provenance.get("how"):  # figures transcribed from earlier printed output
        return f"_Figures {provenance['how']}; command `{provenance['command']}`._"
    machine = provenance.get("machine") or {}
    where = (f"{machine.get('cpu_model', 'an unnamed CPU')}, {machine.get('cores', '?')} cores"
             if machine else "machine not recorded")
    short = short_commit(provenance.get("commit"))
    date = str(provenance.get("date", ""))[:10]
    return f"_Measured by `{provenance['command']}` at commit {short} on {where}, {date}._"


#: How the docs name the graded pairs' levels.
LEVEL_TITLES = {"same_occupation": "same occupation", "same_unit_group": "same unit group",
                "same_minor_group": "same minor group", "same_sub_major": "same sub-major group",
                "unrelated": "unrelated"}


def boundary(metric: str) -> str:
    """``same_sub_major<same_minor_group/auc`` as "same sub-major group < same minor group"."""
    lower, upper = metric.removesuffix("/auc").split("<")
    return f"{LEVEL_TITLES.get(lower, lower)} < {LEVEL_TITLES.get(upper, upper)}"
