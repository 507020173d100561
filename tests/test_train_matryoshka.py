"""Matryoshka training (nbhelpers.train_matryoshka) on tiny slices of the sample, with MiniLM."""
import copy
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import Dataset

from nbhelpers import train_matryoshka as cli
from nbhelpers.matryoshka import arguments, data, evaluators, losses, train
from nbhelpers.matryoshka import model as models
from nbhelpers.matryoshka.config import CONTRASTIVE_LABELS, LOSSES, MatryoshkaConfig
from nbhelpers.errors import InputError
from nbhelpers.prepare import PrepareConfig, build_datasets

#: Settings that keep a training call to a few seconds.
FAST = {"batch_size": 8, "max_steps": 2, "max_seq_length": 32, "eval_batch_size": 64,
        "logging_steps": 1, "patience": None, "progress": False, "learning_rate": 1e-4,
        "hard_negatives": False, "stsb_replay": 0.0, "guard_alphas": None}


@pytest.fixture(scope="module")
def prepared(sample):
    return build_datasets(sample, PrepareConfig())[0]


@pytest.fixture(scope="module")
def base_model():
    return models.load_base_model("minilm")[0]


@pytest.fixture
def model(base_model):
    return copy.deepcopy(base_model)


@pytest.fixture(scope="module")
def tiny_ir(prepared):
    """20 validation queries over their passages plus 30 training passages as distractors."""
    val = prepared.retrieval["validation"].head(20)
    train = prepared.retrieval["train"].drop_duplicates("passage_id").head(30)
    queries = dict(zip(val.query_id, val["query"]))
    corpus = {**dict(zip(train.passage_id, train.passage)), **dict(zip(val.passage_id, val.passage))}
    relevant = {q: {p} for q, p in zip(val.query_id, val.passage_id)}
    return queries, corpus, relevant


@pytest.fixture(scope="module")
def tiny_train(prepared):
    rows = prepared.retrieval["train"].head(32)
    return pd.DataFrame({"anchor": rows["query"], "positive": rows.passage})


def config(tmp_path, **changes):
    return MatryoshkaConfig(**{**FAST, "output_dir": str(tmp_path / "out"), **changes})


# ------------------------------------------------------------------ arguments and metric keys


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU settings")
def test_training_arguments_on_cpu(tmp_path):
    cfg = MatryoshkaConfig()
    args = arguments.training_arguments(cfg, tmp_path / "out" / "checkpoints", "eval_dim_64_cosine_ndcg@10")
    assert not args.bf16 and not args.fp16 and not args.tf32
    assert "fused" not in str(args.optim)
    assert args.dataloader_pin_memory is False
    assert args.output_dir == str(tmp_path / "out" / "checkpoints")
    assert args.load_best_model_at_end and args.greater_is_better
    assert args.metric_for_best_model == "eval_dim_64_cosine_ndcg@10"
    assert str(args.batch_sampler.value) == "no_duplicates"
    assert args.save_total_limit == cfg.save_total_limit
    assert args.eval_strategy == args.save_strategy == "epoch"
    scored = arguments.training_arguments(MatryoshkaConfig(loss="cosent", eval_steps=5), tmp_path, "k")
    assert str(scored.batch_sampler.value) == "batch_sampler"
    assert scored.eval_steps == scored.save_steps == 5


def test_metric_key_is_one_the_evaluator_produces(model, tiny_ir):
    evaluator = evaluators.share_encodings(evaluators.ir_evaluator(tiny_ir, [384, 128, 64]))
    keys = evaluators.metric_keys(evaluator, model.similarity_fn_name)
    key = evaluators.metric_key(MatryoshkaConfig(), [384, 128, 64])
    assert key == "eval_dim_64_cosine_ndcg@10" and key in keys
    assert evaluators.metric_key(MatryoshkaConfig(metric_dim=128, metric="mrr@10"), [384, 64]) \
        == "eval_dim_128_cosine_mrr@10"
    produced = {f"eval_{k}" for k in evaluator(model)}       # the trainer adds "eval_"
    assert produced == set(keys)
    with pytest.raises(InputError, match="valid keys: .*eval_dim_64_cosine_ndcg@10"):
        evaluators.check_metric_key("eval_dim_64_ndcg@10", keys)


def test_shared_encodings_give_the_plain_evaluators_metrics(model, tiny_ir):
    shared = evaluators.share_encodings(evaluators.ir_evaluator(tiny_ir, [384, 64]))(model)
    plain = evaluators.ir_evaluator(tiny_ir, [384, 64])(model)
    assert shared.keys() == plain.keys()
    assert all(abs(shared[k] - plain[k]) < 1e-6 for k in plain)


def test_metric_mismatch_raises_before_training(tmp_path, model, tiny_train, tiny_ir, monkeypatch):
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer

    def no_training(*args, **kwargs):
        raise AssertionError("the trainer was built although the metric key is wrong")

    monkeypatch.setattr(SentenceTransformerTrainer, "__init__", no_training)
    for changes in ({"metric_dim": 100}, {"metric_for_best_model": "eval_dim_64_ndcg@10"},
                    {"metric": "ndcg@5"}):
        with pytest.raises(InputError, match="valid keys: .*eval_dim_64_cosine_ndcg@10"):
            train.train_matryoshka(config(tmp_path, **changes), train_data=tiny_train, eval_ir=tiny_ir,
                                model=model)
    # the guard selects on the same key, so it is checked even when training does not evaluate
    guarded = {"guard_alphas": [0.5, 1.0], "evaluate": False}
    with pytest.raises(InputError, match="valid keys: .*eval_dim_64_cosine_ndcg@10"):
        train.train_matryoshka(config(tmp_path, metric_dim=100, **guarded), train_data=tiny_train,
                            eval_ir=tiny_ir, model=model)
    with pytest.raises(InputError, match="guard_alphas needs the validation evaluator"):
        train.train_matryoshka(config(tmp_path, **guarded), train_data=tiny_train, model=model)


# ------------------------------------------------------------------ the loss menu


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_builds_with_the_columns_it_needs(name, model, prepared):
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    cfg = MatryoshkaConfig(loss=name, max_train_samples=6, max_seq_length=32)
    loss = losses.build_loss(model, name, dims=[384, 128, 64], config=cfg)
    assert isinstance(loss, MatryoshkaLoss) and loss.matryoshka_dims == (384, 128, 64)
    assert not isinstance(losses.build_loss(model, name, dims=None, config=cfg), MatryoshkaLoss)
    frame = data.training_frame(prepared, cfg)
    columns = list(LOSSES[name][0])
    if name == "triplet":  # negatives come from mining
        assert list(frame.columns) == ["anchor", "positive"]
        with pytest.raises(InputError, match="negative.*hard_negatives=True"):
            data.to_dataset(frame, name)
        frame = frame.assign(negative=frame.positive.iloc[::-1].to_numpy())
    rows = data.to_dataset(frame, name)
    assert rows.column_names == columns and len(rows) == 6
    texts = [c for c in columns if c not in ("score", "label")]
    features = [model.tokenize(rows[c]) for c in texts]
    labels = torch.tensor(rows[columns[-1]], dtype=torch.float) if len(texts) < len(columns) else None
    value = loss(features, labels)
    assert torch.isfinite(value)


def test_scored_and_labelled_rows(prepared):
    scored = data.training_frame(prepared, MatryoshkaConfig(loss="cosent", max_train_samples=None))
    assert scored.score.between(0, 1).all() and scored.score.nunique() > 2
    labelled = data.training_frame(prepared, MatryoshkaConfig(loss="contrastive", max_train_samples=None))
    assert set(labelled.label) == {0, 1}
    pairs = prepared.pairs["train"]
    assert len(labelled) == pairs.level.isin(list(CONTRASTIVE_LABELS)).sum()


def test_unknown_loss_lists_the_choices(model):
    with pytest.raises(InputError, match="mnrl, cached_mnrl, triplet, cosent, cosine, angle, contrastive"):
        losses.build_loss(model, "infonce")
    with pytest.raises(InputError, match="choose one of mnrl"):
        MatryoshkaConfig(loss="infonce").validate()


@pytest.mark.parametrize("field, value", [
    ("lora_dropout", 1.0), ("lora_dropout", "0.1"), ("hn_range_min", -1), ("hn_range_min", 1.5),
    ("hn_range_max", 0), ("hn_range_max", True), ("hn_relative_margin", -0.05),
    ("mnrl_scale", 0), ("triplet_margin", -1), ("contrastive_margin", None),
    ("sts_tolerance", -0.01)])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(InputError, match="^" + re.escape(f"{field}={value!r}: expected")):
        MatryoshkaConfig(**{field: value}).validate()
    MatryoshkaConfig(lora_dropout=0.0, hn_range_min=3, hn_range_max=None,
                        hn_relative_margin=None).validate()  # the edges that are fine


# ------------------------------------------------------------------ hard negatives


def test_hard_negative_mining_never_returns_the_positive(model, prepared):
    rows = prepared.retrieval["train"].drop_duplicates("passage_id").head(12)
    pairs = Dataset.from_dict({"anchor": rows["query"].tolist(), "positive": rows.passage.tolist()})
    cfg = MatryoshkaConfig(progress=False, hn_range_max=8)
    mined = data.mine_negatives(pairs, model, cfg)
    assert mined.column_names == ["anchor", "positive", "negative"]
    assert len(mined) > 0
    for row in mined:
        assert row["negative"] != row["positive"]
        assert row["negative"] in set(rows.passage)


# ------------------------------------------------------------------ training, saving, resuming


@pytest.mark.slow
def test_tiny_training_changes_the_metric_and_saves_a_model_card(tmp_path, model, prepared, tiny_ir):
    from nbhelpers.models import resolve_model

    head = prepared.retrieval["train"].head(48)
    rows = pd.DataFrame({"anchor": head["query"], "positive": head.passage})
    result = train.train_matryoshka(config(tmp_path, max_steps=4, batch_size=12, learning_rate=2e-4),
                                    train_data=rows, eval_ir=tiny_ir, model=model)
    key = "eval_dim_64_cosine_ndcg@10"
    assert result.metric_for_best_model == key
    assert result.dims == [384, 256, 128, 64]
    assert result.global_step == 4 and result.train_rows == 48
    assert result.baseline[key] != pytest.approx(result.evals[key].iloc[-1], abs=1e-9)
    assert result.samples_per_second > 0 and result.seconds > 0
    assert list(result.losses.step) == [1, 2, 3, 4] and result.losses.loss.notna().all()
    assert result.best_checkpoint and "checkpoint-" in result.best_checkpoint
    assert (result.model_path / "README.md").is_file()
    card = (result.model_path / "README.md").read_text(encoding="utf-8")
    assert "license: apache-2.0" in card and "MatryoshkaLoss" in card
    assert (result.model_path / "model.safetensors").is_file()
    assert result.model_path.parent == tmp_path / "out"
    summary = json.loads((tmp_path / "out" / train.RESULT_FILE).read_text())
    assert summary["metric_for_best_model"] == key
    tuned = resolve_model(result.model_path)
    assert tuned.model.max_seq_length == 256  # the base model's, not the training length
    assert tuned.encode(["data engineer"]).shape == (1, 384)
    with pytest.raises(InputError, match="already exists"):  # a finished run is never overwritten
        train.train_matryoshka(config(tmp_path), train_data=rows, eval_ir=tiny_ir, model=model)


@pytest.mark.slow
def test_lora_saves_adapter_and_merged_model(tmp_path, model, tiny_train, tiny_ir):
    from sentence_transformers import SentenceTransformer

    from nbhelpers.models import resolve_model

    result = train.train_matryoshka(config(tmp_path, lora=True, lora_r=4, lora_alpha=8),
                                 train_data=tiny_train, eval_ir=tiny_ir, model=model)
    assert (result.adapter_path / "adapter_config.json").is_file()
    assert (result.adapter_path / "adapter_model.safetensors").is_file()
    assert not (result.model_path / "adapter_config.json").exists()
    assert (result.model_path / "model.safetensors").is_file()
    merged = resolve_model(result.model_path)
    texts = ["What does a data engineer do?", "nurse"]
    vectors = merged.encode(texts)
    assert vectors.shape == (2, 384)
    adapter = SentenceTransformer(str(result.adapter_path), device="cpu")
    again = adapter.encode(texts, normalize_embeddings=True)
    assert np.allclose(np.sum(vectors * again, axis=1), 1.0, atol=1e-4)
    base = models.load_base_model("minilm")[0].encode(texts, normalize_embeddings=True)
    assert np.abs(vectors - base).max() > 1e-5  # two LoRA steps changed it (a little)


class Crash(Exception):
    """A training killed right after it saved a checkpoint."""


def crash_after_saving(step: int):
    """A trainer callback that raises :class:`Crash` once the checkpoint of ``step`` is saved."""
    from transformers import TrainerCallback

    class CrashAfterSaving(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise Crash

    return CrashAfterSaving()


@pytest.mark.slow
def test_restart_resumes_from_the_last_checkpoint(tmp_path, model, base_model, tiny_train, tiny_ir):
    cfg = config(tmp_path, max_steps=4, eval_steps=2)
    with pytest.raises(Crash):
        train.train_matryoshka(cfg, train_data=tiny_train, eval_ir=tiny_ir, model=model,
                            callbacks=[crash_after_saving(2)])
    assert (tmp_path / "out" / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "out" / "model").exists()
    with pytest.raises(InputError, match=r"holds checkpoints of another setup; changed "
                                         r"\{'matryoshka': \(True, False\)\}"):
        train.train_matryoshka(config(tmp_path, max_steps=4, eval_steps=2, matryoshka=False),
                            train_data=tiny_train, eval_ir=tiny_ir, model=copy.deepcopy(base_model))
    result = train.train_matryoshka(cfg, train_data=tiny_train, eval_ir=tiny_ir,
                                 model=copy.deepcopy(base_model))
    assert result.resumed_from.endswith("checkpoint-2")
    assert result.global_step == 4
    assert result.train_metrics["train_samples_per_second"] > 0
    assert list(result.losses.step) == [1, 2, 3, 4]   # the first run's log came back with the state
    assert list(result.evals.step) == [2, 4]
    assert result.model_path.is_dir()


@pytest.mark.slow
def test_a_checkpoint_cut_short_is_named_and_the_one_before_it_resumed(tmp_path, model, base_model,
                                                                        tiny_train, tiny_ir, capsys):
    cfg = config(tmp_path, max_steps=6, eval_steps=2, save_total_limit=3)
    with pytest.raises(Crash):
        train.train_matryoshka(cfg, train_data=tiny_train, eval_ir=tiny_ir, model=model,
                               callbacks=[crash_after_saving(4)])
    checkpoints = tmp_path / "out" / "checkpoints"
    weights = checkpoints / "checkpoint-4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])   # killed mid-write
    capsys.readouterr()
    result = train.train_matryoshka(cfg, train_data=tiny_train, eval_ir=tiny_ir,
                                    model=copy.deepcopy(base_model))
    out = capsys.readouterr().out
    assert f"checkpoint {checkpoints / 'checkpoint-4'} cannot be resumed from: model.safetensors is " \
           "damaged" in out and "Moved aside to damaged-checkpoint-4" in out
    assert result.resumed_from.endswith("checkpoint-2") and result.global_step == 6
    assert (checkpoints / "damaged-checkpoint-4" / "model.safetensors").is_file()   # kept, aside
    assert result.model_path.is_dir()


# ------------------------------------------------------------------ forgetting guard


STS_PAIRS = [(5.0, "A man is playing a guitar.", "A man plays the guitar."),
             (0.2, "A woman is slicing an onion.", "A dog runs in the park."),
             (3.6, "Children are playing football.", "Kids play soccer outside."),
             (1.0, "The stock market fell today.", "A cat sleeps on the sofa."),
             (4.2, "A chef cooks pasta.", "Someone is cooking noodles."),
             (2.0, "A nurse helps a patient.", "A doctor reads a chart.")]


def tiny_stsb(folder, split="dev", repeat=1):
    """An STS-B folder with ``sts-<split>.csv``: the six pairs above, ``repeat`` times."""
    folder.mkdir(exist_ok=True)
    lines = [f"main-captions\tMSRvid\t2012test\t{i:04d}\t{score}\t{a}\t{b}"
             for i, (score, a, b) in enumerate(STS_PAIRS * repeat)]
    (folder / f"sts-{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_guard_saves_the_chosen_interpolation(tmp_path, model, base_model, tiny_train, tiny_ir):
    from nbhelpers.models import resolve_model

    sts = tiny_stsb(tmp_path / "stsb")
    cfg = config(tmp_path, guard_alphas=[0.5, 1.0], sts_tolerance=1.0, stsb_source=str(sts))
    result = train.train_matryoshka(cfg, train_data=tiny_train, eval_ir=tiny_ir, model=model)
    assert list(result.guard.alpha) == [0.0, 0.5, 1.0]   # the base model is always a candidate
    assert result.guard["stsb_dev_spearman"].notna().all()
    key = result.metric_for_best_model
    assert result.guard[key].iloc[0] == pytest.approx(result.baseline[key])
    assert result.guard[key].iloc[-1] == pytest.approx(result.best_metric)   # alpha 1: the trainer's best
    assert result.alpha == result.guard.loc[result.guard[key].idxmax(), "alpha"]
    assert f"alpha={result.alpha:g}" in result.guard_reason
    saved = resolve_model(result.model_path).model.state_dict()
    base = base_model.state_dict()
    trained = result.model  # holds the chosen weights, same as the saved folder
    for name in ("0.model.encoder.layer.0.attention.self.query.weight",):
        assert torch.allclose(saved[name], trained.state_dict()[name])
        if result.alpha == 0.0:
            assert torch.allclose(saved[name], base[name])


@pytest.mark.slow
def test_stsb_replay_trains_on_both_datasets(tmp_path, model, tiny_train, tiny_ir):
    sts = tiny_stsb(tmp_path / "stsb", split="train", repeat=4)   # 24 pairs
    cfg = config(tmp_path, stsb_replay=0.5, stsb_source=str(sts), max_steps=-1, epochs=1.0)
    from nbhelpers.stsb import load_stsb

    replay = data.replay_dataset(load_stsb("train", sts), 0.5, len(tiny_train), seed=1)
    assert replay.column_names == ["sentence1", "sentence2", "score"] and len(replay) == 16
    assert 0.0 <= min(replay["score"]) and max(replay["score"]) <= 1.0
    result = train.train_matryoshka(cfg, train_data=tiny_train, eval_ir=tiny_ir, model=model)
    assert (result.train_rows, result.replay_rows) == (32, 16)
    assert result.global_step == 32 // 8 + 16 // 8   # domain batches + STS-B batches, one epoch
    assert data.replay_dataset(load_stsb("train", sts), 0.0, 32) is None
    assert data.replay_dataset(None, 0.5, 32) is None   # STS-B unavailable: no replay


def test_stsb_replay_without_stsb_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("STSB_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = pd.DataFrame({"anchor": ["a", "b"], "positive": ["c", "d"]})
    with pytest.raises(InputError, match="stsb_replay=0.25: needs the STS-B train pairs, but STS-B "
                                         "is unavailable"):
        train.train_matryoshka(config(tmp_path, stsb_replay=0.25), train_data=rows,
                               eval_ir=({"q": "a"}, {"p": "c"}, {"q": {"p"}}))


# ------------------------------------------------------------------ joint: retrieval and graded pairs


def _with_train_pairs(prepared, frame):
    import dataclasses

    return dataclasses.replace(prepared, pairs={**prepared.pairs, "train": frame})


def test_graded_pairs_come_level_by_level_and_a_bad_score_names_its_row(prepared):
    pairs = data.graded_pairs(prepared, "train")
    assert pairs.column_names == ["sentence1", "sentence2", "score"]
    assert len(pairs) == len(prepared.pairs["train"])
    first = pd.Series(pairs.select(range(50))["score"]).value_counts()   # one target per level
    assert len(first) == 5 and first.min() == first.max() == 10
    broken = prepared.pairs["train"].copy()
    broken.loc[broken.index[3], "score"] = 4.0
    with pytest.raises(InputError, match=r"row 3 of the 'train' split: score 4\.0 is outside \[-1, 1\]"):
        data.graded_pairs(_with_train_pairs(prepared, broken), "train")
    with pytest.raises(InputError, match="'train' split has no graded pairs"):
        data.graded_pairs(_with_train_pairs(prepared, broken.head(0)), "train")


@pytest.mark.parametrize("changes, message", [
    ({"pairs_share": 0}, "pairs_share=0: expected a number > 0"),
    ({"pairs_share": -1.0}, "pairs_share=-1.0: expected a number > 0"),
    ({"pairs_share": float("inf")}, "pairs_share=inf: expected a number > 0"),
    ({"pairs_loss": "cosine"}, "pairs_loss='cosine': expected one of cosent, angle"),
    ({"loss": "cosent"}, "joint=True trains graded pairs beside retrieval rows, but loss 'cosent'"),
    ({"max_eval_pairs": 0}, "max_eval_pairs=0: expected a positive int")])
def test_joint_settings_are_checked_by_name(changes, message):
    with pytest.raises(InputError, match="^" + re.escape(message)):
        MatryoshkaConfig(joint=True, **changes).validate()
    MatryoshkaConfig(joint=False, pairs_share=0).validate()   # only a joint run reads them


def test_joint_bad_input_fails_before_the_model_loads(tmp_path, prepared, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(models, "load_base_model", no_model)
    broken = prepared.pairs["train"].copy()
    broken["score"] = broken.score * 5   # an STS-like 0-5 scale
    with pytest.raises(InputError, match="graded pairs \\(joint\\): row .* is outside \\[-1, 1\\]"):
        train.setup(config(tmp_path, joint=True), _with_train_pairs(prepared, broken))
    with pytest.raises(InputError,
                       match="pairs_share=0.001: 0.001 x 32 retrieval rows leaves no graded pair"):
        train.setup(config(tmp_path, joint=True, pairs_share=0.001, max_train_samples=32), prepared)
    with pytest.raises(InputError, match="joint=True trains on notebook 01's graded pairs: pass prepared"):
        train.setup(config(tmp_path, joint=True),
                    train_data=pd.DataFrame({"anchor": ["a"], "positive": ["b"]}),
                    eval_ir=({"q": "a"}, {"p": "b"}, {"q": {"p"}}))
    assert data.pairs_count(2.0, 32, 40) == 40   # fewer exist than wanted: all of them
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_joint_training_mixes_both_datasets_and_selects_on_both_uses(tmp_path, model, prepared):
    sts = tiny_stsb(tmp_path / "stsb")
    cfg = config(tmp_path, joint=True, pairs_share=0.5, max_train_samples=32, max_steps=-1, epochs=1.0,
                 max_eval_pairs=50, guard_alphas=[0.5, 1.0], stsb_source=str(sts), pairs_loss="angle")
    result = train.train_matryoshka(cfg, prepared, model=model)
    assert (result.train_rows, result.pairs_rows) == (32, 16)
    assert result.global_step == 32 // 8 + 16 // 8   # retrieval batches + graded-pair batches
    assert result.metric_for_best_model == evaluators.JOINT_KEY == "eval_sequential_score"
    last = result.evals.iloc[-1]
    retrieval, pairs = evaluators.joint_parts(result.dims)
    assert (retrieval, pairs) == ("eval_dim_64_cosine_ndcg@10", "eval_pairs_spearman_cosine")
    assert last[evaluators.JOINT_KEY] == pytest.approx((last[retrieval] + last[pairs]) / 2)
    assert -1 <= last["eval_stsb-dev_spearman_cosine"] <= 1
    assert result.baseline[pairs] != last[pairs]   # the graded pairs trained
    sweep = result.guard.set_index("alpha")
    assert list(sweep.index) == [0.0, 0.5, 1.0]
    assert {retrieval, pairs, "stsb_dev_spearman"} <= set(sweep.columns)
    assert sweep.loc[0.0, pairs] == pytest.approx(result.baseline[pairs])
    assert np.allclose(sweep[evaluators.JOINT_KEY], (sweep[retrieval] + sweep[pairs]) / 2)
    assert result.model_path == tmp_path / "out" / "model" and result.model_path.is_dir()


# ------------------------------------------------------------------ bad input


def test_bad_inputs_fail_before_training(tmp_path, model, tiny_train, tiny_ir):
    run = {"eval_ir": tiny_ir, "model": model}
    with pytest.raises(InputError, match="no rows"):
        train.train_matryoshka(config(tmp_path), train_data=tiny_train.head(0), **run)
    with pytest.raises(InputError, match=r"needs columns \['anchor', 'positive'\]; missing \['positive'\]"):
        train.train_matryoshka(config(tmp_path), train_data=tiny_train[["anchor"]], **run)
    with pytest.raises(InputError, match=r"dims=\[512\].*outputs 384"):
        train.train_matryoshka(config(tmp_path, dims=[512, 64]), train_data=tiny_train, **run)
    with pytest.raises(InputError, match="batch_size=1"):
        train.train_matryoshka(config(tmp_path, batch_size=1), train_data=tiny_train, **run)
    with pytest.raises(InputError, match="no data"):
        train.train_matryoshka(config(tmp_path), model=model)
    with pytest.raises(InputError, match="guard_alphas"):
        train.train_matryoshka(config(tmp_path, guard_alphas=[1.5]), train_data=tiny_train, **run)
    with pytest.raises(InputError, match="stsb_replay=-0.5"):
        train.train_matryoshka(config(tmp_path, stsb_replay=-0.5), train_data=tiny_train, **run)
    with pytest.raises(InputError, match=r"sts-train\.csv"):
        train.train_matryoshka(config(tmp_path, stsb_replay=0.25, stsb_source=str(tmp_path)),
                            train_data=tiny_train, **run)
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_offline_hub_id_and_tensorflow_models_are_refused(tmp_path, tiny_train, tiny_ir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="offline.*Offline choices: use-m3, minilm"):
        train.train_matryoshka(config(tmp_path, model="BAAI/bge-base-en-v1.5"), train_data=tiny_train,
                            eval_ir=tiny_ir)
    with pytest.raises(InputError, match="TensorFlow SavedModel"):
        models.load_base_model("use-m3")


def test_config_files_and_cli(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_text("preset: full\nloss: cached_mnrl\nmini_batch_size: 8\n", encoding="utf-8")
    cfg = MatryoshkaConfig.from_file(path)
    assert cfg.loss == "cached_mnrl" and cfg.max_seq_length == MatryoshkaConfig.full().max_seq_length
    assert cli.main(["--print-default-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert MatryoshkaConfig.from_dict(printed) == MatryoshkaConfig()
    (tmp_path / "bad.json").write_text(json.dumps({"los": "mnrl"}), encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown field\(s\) \['los'\]"):
        MatryoshkaConfig.from_file(tmp_path / "bad.json")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(tmp_path / "bad.json")])
    assert exit_info.value.code == 2


@pytest.mark.slow
def test_command_line_run_writes_a_manifest(tmp_path, capsys):
    cfg = {**FAST, "max_train_samples": 16, "baseline_eval": False}
    (tmp_path / "cfg.yaml").write_text(json.dumps(cfg), encoding="utf-8")  # JSON is valid YAML
    assert cli.main(["--config", str(tmp_path / "cfg.yaml"), "--output-dir", str(tmp_path / "out")]) == 0
    assert '"global_step": 2' in capsys.readouterr().out
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    step = manifest["steps"]["train_matryoshka"]
    assert step["parameters"]["max_train_samples"] == 16 and step["seconds"] > 0
    assert sorted(Path(p).name for p in step["inputs"]) == ["isco_groups.csv", "occupations.csv"]
    assert all(len(digest) == 64 for digest in step["inputs"].values())
    assert manifest["packages"]["sentence-transformers"]
    assert step["result"].endswith("result.json") and Path(step["result"]).is_file()


# ------------------------------------------------------------------ notebook and command alike


def _loss_signature(loss):
    """What a loss is: its class, Matryoshka dims, inner loss class and scale."""
    if isinstance(loss, dict):
        return {name: _loss_signature(value) for name, value in loss.items()}
    inner = getattr(loss, "loss", None)
    return (type(loss).__name__, tuple(getattr(loss, "matryoshka_dims", ()) or ()),
            type(inner).__name__ if inner is not None else None,
            getattr(inner or loss, "scale", None))


@pytest.mark.parametrize("joint", [False, True], ids=["retrieval", "joint"])
def test_the_notebook_and_the_command_build_the_same_trainer(tmp_path, base_model, prepared, joint):
    """Notebook 04's own cells (data, loss, evaluator, arguments, trainer) and the command's
    ``setup`` give the same datasets, losses, evaluators, training arguments and callbacks."""
    from datasets import DatasetDict
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
        InformationRetrievalEvaluator,
        SequentialEvaluator,
    )
    from sentence_transformers.sentence_transformer.losses import (
        AnglELoss,
        CoSENTLoss,
        MatryoshkaLoss,
        MultipleNegativesRankingLoss,
    )
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
    )
    from transformers import EarlyStoppingCallback

    import notebook_cells
    from nbhelpers import matryoshka as blocks
    from nbhelpers.stsb import load_splits, load_stsb

    sts = tiny_stsb(tiny_stsb(tmp_path / "stsb", split="train", repeat=4))   # train and dev
    cfg = MatryoshkaConfig(max_train_samples=16, hard_negatives=False, stsb_replay=0.5, joint=joint,
                           pairs_share=0.5, max_eval_pairs=20, stsb_source=str(sts), guard_alphas=None,
                           output_dir=str(tmp_path / "out"))
    command = train.setup(cfg, prepared, model=copy.deepcopy(base_model))

    rows = data.to_dataset(data.training_frame(prepared, cfg), cfg.loss)
    space = {**cfg.to_dict(), "config": cfg, "train_model": copy.deepcopy(base_model),
             "train_dataset": rows, "replay": data.replay_dataset(load_stsb("train", sts), 0.5, len(rows)),
             "graded": data.graded_pairs(prepared, "train") if joint else None,
             "sts": load_splits(("train", "dev"), sts),
             "dims": [384, 256, 128, 64], "prepared": prepared, "output_dir": tmp_path / "out",
             "blocks": blocks, "DatasetDict": DatasetDict, "CoSENTLoss": CoSENTLoss, "AnglELoss": AnglELoss,
             "MatryoshkaLoss": MatryoshkaLoss, "MultipleNegativesRankingLoss": MultipleNegativesRankingLoss,
             "SequentialEvaluator": SequentialEvaluator,
             "InformationRetrievalEvaluator": InformationRetrievalEvaluator,
             "EmbeddingSimilarityEvaluator": EmbeddingSimilarityEvaluator,
             "SentenceTransformerTrainingArguments": SentenceTransformerTrainingArguments,
             "SentenceTransformerTrainer": SentenceTransformerTrainer, "BatchSamplers": BatchSamplers,
             "MultiDatasetBatchSamplers": MultiDatasetBatchSamplers,
             "PrinterCallback": __import__("transformers").PrinterCallback,
             "EarlyStoppingCallback": EarlyStoppingCallback}
    notebook = notebook_cells.run("04_matryoshka.ipynb", [
        "pairs_dataset = None", "inner = (MultipleNegativesRankingLoss", "evaluator = SequentialEvaluator(",
        "args = SentenceTransformerTrainingArguments(", "trainer = SentenceTransformerTrainer("], space)
    ours, theirs = notebook["trainer"], command.trainer

    matryoshka = ("MatryoshkaLoss", (384, 256, 128, 64))
    expected = {"domain": (*matryoshka, "MultipleNegativesRankingLoss", 20.0),
                "stsb": (*matryoshka, "CoSENTLoss", 20.0)}
    if joint:
        expected["pairs"] = (*matryoshka, "CoSENTLoss", 20.0)
    assert _loss_signature(ours.loss) == _loss_signature(theirs.loss) == expected
    assert list(ours.train_dataset) == list(theirs.train_dataset) == (
        ["domain", "pairs", "stsb"] if joint else ["domain", "stsb"])
    for name in ours.train_dataset:
        assert ours.train_dataset[name].to_dict() == theirs.train_dataset[name].to_dict(), name

    def described(evaluator):
        return [(e.name, e.truncate_dim, getattr(e, "ndcg_at_k", None), getattr(e, "sentences1", None))
                for e in evaluator.evaluators]

    assert described(ours.evaluator) == described(theirs.evaluator)
    assert [e.name for e in ours.evaluator.evaluators][4:] == (["pairs", "stsb-dev"] if joint else [])
    scores = [0.1, 0.2, 0.3, 0.4, 0.8, 0.5]
    assert ours.evaluator.main_score_function(scores) == theirs.evaluator.main_score_function(scores) == \
        pytest.approx(0.6 if joint else 0.5)
    assert notebook["metric_key"] == command.key == (
        "eval_sequential_score" if joint else "eval_dim_64_cosine_ndcg@10")
    mine, other = ours.args.to_dict(), theirs.args.to_dict()
    assert mine["output_dir"] == other["output_dir"] == str(tmp_path / "out" / "checkpoints")
    assert {k: (mine[k], other[k]) for k in mine if mine[k] != other[k]} == {}
    assert [type(c).__name__ for c in ours.callback_handler.callbacks] == \
        [type(c).__name__ for c in theirs.callback_handler.callbacks]


def test_the_notebooks_parameters_default_to_the_configs():
    import papermill as pm

    from nbhelpers.paths import project_root
    from nbhelpers.siamese.config import SiameseConfig

    for notebook, defaults, renamed in (("03_siamese_use.ipynb", SiameseConfig().to_dict(), {}),
                                        ("04_matryoshka.ipynb", MatryoshkaConfig().to_dict(),
                                         {"stsb_dir": "stsb_source"})):
        declared = pm.inspect_notebook(str(project_root() / "notebooks" / notebook))
        shared = {name: renamed.get(name, name) for name in declared
                  if renamed.get(name, name) in defaults}
        assert len(shared) >= 10, notebook
        for name, field in shared.items():
            value = eval(declared[name]["default"])   # the literal in the parameters cell
            expected = defaults[field]
            assert (list(value) if isinstance(value, (list, tuple)) else value) == \
                (list(expected) if isinstance(expected, (list, tuple)) else expected), (notebook, name)
