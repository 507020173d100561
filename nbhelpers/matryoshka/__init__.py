"""Notebook 04: Matryoshka fine-tuning of a sentence-transformers model for retrieval, after the
tutorial that tunes ``BAAI/bge-base-en-v1.5`` for RAG (P. Schmid, 2024).

One module per step of the recipe, imported as ``from nbhelpers import matryoshka`` and used as
``matryoshka.data.training_frame(...)`` (each loads on first use):

* :mod:`~nbhelpers.matryoshka.config`: the settings and their checks;
* :mod:`~nbhelpers.matryoshka.data`: training rows for the loss, STS-B replay, hard negatives;
* :mod:`~nbhelpers.matryoshka.model`: the base model, LoRA, saving;
* :mod:`~nbhelpers.matryoshka.tsdae`: TSDAE on unlabelled sentences before pair training;
* :mod:`~nbhelpers.matryoshka.losses`: the loss menu, wrapped in ``MatryoshkaLoss``;
* :mod:`~nbhelpers.matryoshka.evaluators`: one ``InformationRetrievalEvaluator`` per dimension;
* :mod:`~nbhelpers.matryoshka.arguments`: ``SentenceTransformerTrainingArguments`` safe on CPU and GPU;
* :mod:`~nbhelpers.matryoshka.progress`: a compact training view for notebooks;
* :mod:`~nbhelpers.matryoshka.guard`: blending and scoring weights for the forgetting guard;
* :mod:`~nbhelpers.matryoshka.results`: what the notebook saves;
* :mod:`~nbhelpers.matryoshka.train`: the whole recipe as one function, for the command line
  (``python -m nbhelpers.train_matryoshka``).

Notebook 04 builds the loss, the evaluator, the arguments and the trainer with
sentence-transformers' own classes in its cells; the command composes these same blocks.
"""
import importlib

STEPS = ("arguments", "config", "data", "evaluators", "guard", "losses", "model", "progress",
         "results", "train", "tsdae")


def __getattr__(name):
    if name in STEPS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
