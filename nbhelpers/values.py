"""Values users type (``-p NAME VALUE``, YAML config files), read as they mean them.

YAML 1.1 reads ``1e-5`` as the text "1e-5" (it wants ``1.0e-5``); a learning rate typed as
Python writes it must arrive as a number. :func:`read_yaml` reads YAML and turns every text
that is a number in Python's syntax into that number.
"""
from __future__ import annotations

import re

import yaml

from nbhelpers.errors import InputError

_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def numbers(value):
    """``value`` with texts such as "1e-5" or "3E2" turned into numbers (recursively)."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    if isinstance(value, list):
        return [numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: numbers(v) for k, v in value.items()}
    return value


def read_yaml(text: str, where: str):
    """Parse YAML ``text``; ``where`` names it in the error (a file, or ``-p name``)."""
    try:
        return numbers(yaml.safe_load(text))
    except yaml.YAMLError as err:
        raise InputError(f"{where}: not valid YAML ({str(err).splitlines()[0]}); expected a value "
                         "such as 3, 0.5, 1e-5, true, null, [1, 2] or text") from None
