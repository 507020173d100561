"""Training and evaluation pairs built from the occupation taxonomy.

**Graded pairs** teach a model *how* similar two job titles are. The target comes from
where the two labels sit in ISCO-08:

=====================  ==========================================  ================
level                  relation                                    default (cosine)
=====================  ==========================================  ================
``same_occupation``    two labels of one occupation                1.0
``same_unit_group``    different occupations, same 4-digit group   0.7
``same_minor_group``   same 3-digit group, different 4-digit       0.5
``same_sub_major``     same 2-digit group, different 3-digit       0.3
``unrelated``          different 2-digit (sub-major) groups        0.0
=====================  ==========================================  ================

The targets are a parameter (``scores``). The full profile uses evenly spaced ones (1.0
becomes 0.9 and 0.0 becomes 0.1), measured better for notebook 03 on the real export
(``PrepareConfig.full()``). Targets come on two scales. ``cosine`` is the table above.
``angular`` is ``1 - arccos(cosine) / pi``, the scale the original USE tutorial trained on: unrelated
0.5, related (cosine 0.7) 0.7468, same 1.0.

**Retrieval pairs** teach a model to find the passage that answers a query: the query
is a label or a templated question about an occupation, the passage its description.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np
import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.esco import Taxonomy

LEVELS = ("same_occupation", "same_unit_group", "same_minor_group", "same_sub_major",
          "unrelated")
DEFAULT_SCORES = {"same_occupation": 1.0, "same_unit_group": 0.7, "same_minor_group": 0.5,
                  "same_sub_major": 0.3, "unrelated": 0.0}
#: Code prefix length two occupations share at each level (and must not share one more of).
_SHARED_DIGITS = {"same_unit_group": 4, "same_minor_group": 3, "same_sub_major": 2,
                  "unrelated": 0}
SCALES = ("cosine", "angular")
QUERY_TEMPLATES = ("{label}", "What does a {label} do?", "What are the duties of a {label}?",
                   "job description: {label}")


def to_angular(cosine):
    """Angular similarity ``1 - arccos(cos)/pi`` of a cosine (array or scalar), in [0, 1]."""
    return 1.0 - np.arccos(np.clip(cosine, -1.0, 1.0)) / math.pi


def graded_pairs(taxonomy: Taxonomy, labels: dict[str, tuple[str, ...]] | None = None, *,
                 pairs_per_level: int = 200, scores: dict[str, float] | None = None,
                 scale: str = "angular", seed: int = 42) -> pd.DataFrame:
    """Sample up to ``pairs_per_level`` unique label pairs per level.

    ``labels`` maps each occupation to the texts it may use (a split's labels); by default
    every occupation with all its labels. Returns columns ``text1, text2, score, level,
    uri1, uri2``, shuffled. A level with fewer distinct pairs than asked gives what exists.
    """
    scores = _check_scores(scores)
    if scale not in SCALES:
        raise InputError(f"scale={scale!r}: expected one of {SCALES}")
    if pairs_per_level < 1:
        raise InputError(f"pairs_per_level={pairs_per_level}: expected a positive number")
    if labels is None:
        labels = {uri: taxonomy.labels(uri) for uri in taxonomy.occupations.uri}
    uris = sorted(labels)
    codes = taxonomy.occupations.isco_group.loc[uris].to_dict()
    rng = np.random.default_rng(seed)
    rows = []
    for level in LEVELS:
        found = _sample_level(level, uris, codes, labels, pairs_per_level, rng)
        rows += [(a, b, scores[level], level, ua, ub) for a, b, ua, ub in found]
    frame = pd.DataFrame(rows, columns=["text1", "text2", "score", "level", "uri1", "uri2"])
    if scale == "angular":
        frame["score"] = to_angular(frame.score.to_numpy())
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def level_targets(frame: pd.DataFrame, name: str = "pairs") -> dict[str, float]:
    """The cosine target of each level in a graded-pairs frame (``score`` on the cosine scale)."""
    missing = {"level", "score"} - set(frame.columns)
    if missing:
        raise InputError(f"{name}: missing column(s) {sorted(missing)}")
    targets = frame.groupby("level").score.unique()
    mixed = {level: sorted(values) for level, values in targets.items() if len(values) > 1}
    if mixed:
        raise InputError(f"{name}: expected one score per level, found {mixed}")
    return {level: float(values[0]) for level, values in targets.items()}


def level_groups(frame: pd.DataFrame, taxonomy: Taxonomy, name: str = "pairs") -> pd.DataFrame:
    """How many ISCO groups each level's pairs come from, and the share of the largest.

    The group of a pair is the code prefix its two occupations share at that level (the
    unit group for ``same_occupation``; ``unrelated`` pairs share none). A level drawn from
    a handful of groups measures those groups rather than the level in general.
    """
    missing = {"level", "uri1"} - set(frame.columns)
    if missing:
        raise InputError(f"{name}: missing column(s) {sorted(missing)}")
    codes = taxonomy.occupations.isco_group
    unknown = sorted(set(frame.uri1) - set(codes.index))
    if unknown:
        raise InputError(f"{name}: {len(unknown)} uri1 value(s) not in the taxonomy, "
                         f"e.g. {unknown[0]!r}")
    digits = {"same_occupation": 4, **_SHARED_DIGITS}
    rows = []
    for level in [lv for lv in LEVELS if lv in set(frame.level)]:
        uris = frame.uri1[frame.level == level]
        row = {"level": level, "pairs": len(uris)}
        if digits[level]:
            shares = codes.loc[uris].str[:digits[level]].value_counts(normalize=True)
            row.update(groups=len(shares), largest_group=shares.index[0],
                       largest_share=float(shares.iloc[0]))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["level", "pairs", "groups", "largest_group", "largest_share"])
    return table.astype({"groups": "Int64"}).set_index("level")


def _check_scores(scores) -> dict[str, float]:
    merged = {**DEFAULT_SCORES, **(scores or {})}
    unknown = set(merged) - set(LEVELS)
    if unknown:
        raise InputError(f"scores: unknown level(s) {sorted(unknown)}; levels are {LEVELS}")
    for level, value in merged.items():
        if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
            raise InputError(f"scores[{level!r}]={value!r}: expected a number in [0, 1]")
    return merged


def _sample_level(level, uris, codes, labels, n, rng) -> list[tuple[str, str, str, str]]:
    """Rejection-sample distinct unordered text pairs of one level."""
    if level == "same_occupation":
        candidates = [(a, b, u, u) for u in uris for i, a in enumerate(labels[u])
                      for b in labels[u][i + 1:]]
        pick = rng.permutation(len(candidates))[:n]
        return [candidates[i] for i in pick]
    digits = _SHARED_DIGITS[level]
    partners = _partners(uris, codes, digits)
    eligible = [u for u in uris if partners(u)]
    found, seen = [], set()
    for _ in range(50 * n):
        if len(found) == n or not eligible:
            break
        ua = eligible[rng.integers(len(eligible))]
        pool = partners(ua)
        ub = pool[rng.integers(len(pool))]
        a = labels[ua][rng.integers(len(labels[ua]))]
        b = labels[ub][rng.integers(len(labels[ub]))]
        key = frozenset((a.lower(), b.lower()))
        if len(key) == 2 and key not in seen:
            seen.add(key)
            found.append((a, b, ua, ub))
    return found


def _partners(uris, codes, digits):
    """Function giving the occupations related to ``uri`` at exactly ``digits`` shared digits."""
    if digits == 0:  # unrelated: a different sub-major group
        by_sub_major = defaultdict(list)
        for u in uris:
            by_sub_major[codes[u][:2]].append(u)
        others = {key: [u for u in uris if codes[u][:2] != key] for key in by_sub_major}
        return lambda u: others[codes[u][:2]]
    by_prefix = defaultdict(list)
    for u in uris:
        by_prefix[codes[u][:digits]].append(u)
    cache = {}

    def partners(u):
        if u not in cache:
            same = by_prefix[codes[u][:digits]]
            cache[u] = [v for v in same if v != u and
                        (digits == 4 or codes[v][:digits + 1] != codes[u][:digits + 1])]
        return cache[u]
    return partners


def retrieval_pairs(taxonomy: Taxonomy, labels: dict[str, tuple[str, ...]] | None = None, *,
                    queries_per_occupation: int = 3, templates=QUERY_TEMPLATES,
                    seed: int = 42) -> pd.DataFrame:
    """(query, positive passage) rows: ``query_id, query, passage_id, passage``.

    Each occupation gets up to ``queries_per_occupation`` distinct queries, each a label
    put into a template; the passage is the occupation's description (its id the URI). An
    occupation without a description has no passage to find and gets no rows.
    """
    if queries_per_occupation < 1:
        raise InputError(f"queries_per_occupation={queries_per_occupation}: expected >= 1")
    if not templates or any("{label}" not in t for t in templates):
        raise InputError(f"templates={templates!r}: each template needs a '{{label}}' slot")
    if labels is None:
        labels = {uri: taxonomy.labels(uri) for uri in taxonomy.occupations.uri}
    rng = np.random.default_rng(seed)
    occ = taxonomy.occupations
    rows, seen = [], set()
    for uri in sorted(labels):
        if not occ.at[uri, "description"].strip():
            continue
        options = [_article(t.format(label=label)) for label in labels[uri] for t in templates]
        count = 0
        for i in rng.permutation(len(options)):
            query = options[i]
            if query.lower() in seen:
                continue
            seen.add(query.lower())
            rows.append((f"q{len(rows)}", query, uri, occ.at[uri, "description"]))
            count += 1
            if count == queries_per_occupation:
                break
    return pd.DataFrame(rows, columns=["query_id", "query", "passage_id", "passage"])


def _article(text: str) -> str:
    """'a engineer' -> 'an engineer' after templating."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def ir_dataset(pairs: pd.DataFrame, corpus: dict[str, str] | None = None):
    """``(queries, corpus, relevant_docs)`` as ``InformationRetrievalEvaluator`` takes them.

    The corpus is every passage in ``pairs`` plus any extra ``corpus`` passages
    (distractors). A query text that occurs twice is kept once, relevant to both passages.
    """
    missing = {"query_id", "query", "passage_id", "passage"} - set(pairs.columns)
    if missing:
        raise InputError(f"retrieval pairs: missing column(s) {sorted(missing)}")
    docs = dict(corpus or {})
    docs.update(zip(pairs.passage_id, pairs.passage))
    queries, relevant, id_of = {}, defaultdict(set), {}
    for qid, text, pid in zip(pairs.query_id, pairs["query"], pairs.passage_id):
        qid = id_of.setdefault(text, qid)
        queries[qid] = text
        relevant[qid].add(pid)
    return queries, docs, dict(relevant)
