"""Resuming notebook 04's training: the newest checkpoint that is whole.

A training killed while it saved a checkpoint (power cut, full disk, SIGKILL) can leave that
checkpoint cut short; transformers would fail on it at every restart. The restart instead names
the damaged checkpoint, moves it aside (``damaged-checkpoint-N``, kept for inspection, never
deleted) and resumes from the newest checkpoint before it that is whole.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from nbhelpers.matryoshka.launch import is_main_process

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def damage(folder: Path) -> str | None:
    """Why ``folder`` cannot be resumed from, or None when it is whole."""
    try:
        json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "trainer_state.json is missing"
    except (ValueError, UnicodeDecodeError) as err:
        return f"trainer_state.json is damaged ({err})"
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        return "it holds no *.safetensors weights"
    from safetensors import safe_open

    for path in weights:
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except Exception as err:   # safetensors raises its own SafetensorError
            return f"{path.name} is damaged ({type(err).__name__}: {err})"
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        if (folder / name).exists() and not zipfile.is_zipfile(folder / name):
            return f"{name} is cut short"
    return None


def last_good_checkpoint(checkpoints_dir: Path) -> str | None:
    """The newest whole ``checkpoint-N`` in ``checkpoints_dir`` (None if there is none); newer
    damaged ones are named and, by the main process, moved aside."""
    if not checkpoints_dir.is_dir():
        return None
    folders = sorted((p for p in checkpoints_dir.iterdir() if CHECKPOINT.match(p.name) and p.is_dir()),
                     key=lambda p: int(CHECKPOINT.match(p.name)[1]), reverse=True)
    for folder in folders:
        problem = damage(folder)
        if problem is None:
            return str(folder)
        aside = folder.with_name(f"damaged-{folder.name}")
        if is_main_process():
            n = 2
            while aside.exists():
                aside, n = folder.with_name(f"damaged-{folder.name}-{n}"), n + 1
            folder.rename(aside)
        print(f"checkpoint {folder} cannot be resumed from: {problem}. Moved aside to {aside.name}; "
              "trying the checkpoint before it")
    return None
