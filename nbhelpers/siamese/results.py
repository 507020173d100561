"""What notebook 03 saves beside its metric records (``results/03_siamese_use[-n].json``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nbhelpers.attempts import Attempt
from nbhelpers.guard import AlphaChoice
from nbhelpers.siamese.config import SiameseConfig


def payload(config: SiameseConfig, attempt: Attempt, names: dict[str, str], dim: int,
            paths: dict[str, Path], history: pd.DataFrame, seconds: float, train_rows: int,
            sweep: pd.DataFrame, choice: AlphaChoice, test_gain: dict) -> dict:
    """The results file's entries beside ``records``: the models (with the base each started
    from), the training (history, restored epoch, speed, settings), the forgetting guard (its
    sweep and choice), the chosen model's test gain with its interval, and the attempt."""
    best = history.loc[history.val_loss.idxmin()] if history.val_loss.notna().any() else history.iloc[-1]
    epochs_run = len(history)
    return {
        "models": {names["base"]: {"dim": dim},
                   names["tuned"]: {"dim": dim, "path": str(paths["tuned"]), "base": names["base"]},
                   names["merged"]: {"dim": dim, "path": str(paths["merged"]), "base": names["base"],
                                     "alpha": choice.alpha}},
        "training": {"history": history.to_dict("list"), "best_epoch": int(best.epoch),
                     "seconds": round(seconds, 1),
                     "samples_per_second": round(epochs_run * train_rows / seconds, 2),
                     "config": config.to_dict()},
        "forgetting_guard": {"sweep": sweep.to_dict("records"), "alpha": choice.alpha,
                             "guarded": choice.guarded, "reason": choice.reason},
        "test_gain": {**test_gain, "model": names["merged"], "base": names["base"],
                      "metric": "spearman"},
        "attempt": attempt.summary(),
    }
