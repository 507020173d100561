"""Training under a launcher (``torchrun``, ``accelerate launch``): one process per device.

Each process reads the config and the data itself, so a cluster whose nodes hold different
files would train one model on several setups without noticing. Before anything loads, the
processes compare what they read and refuse to start when it differs.
"""
from __future__ import annotations

import json
import os

from nbhelpers.errors import InputError


def world_size() -> int:
    """How many processes the launcher started (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def launched_on_cpus() -> bool:
    """Several processes and no accelerator: the trainer must be told to use the CPUs, or
    accelerate treats every process as a training of its own (no data parallelism, and the
    evaluation metrics only on the main process)."""
    if world_size() == 1:
        return False
    import torch

    return not torch.accelerator.is_available()


def check_same_setup(setup: dict) -> None:
    """Under a launcher, raise :class:`InputError` on every process when ``setup`` (the config
    and the input files' checksums) differs between processes; without one, do nothing."""
    if world_size() == 1:
        return
    import torch.distributed as dist
    from accelerate import PartialState

    PartialState(cpu=launched_on_cpus())   # joins the launcher's process group (gloo on CPUs)
    every: list = [None] * dist.get_world_size()
    dist.all_gather_object(every, json.dumps(setup, sort_keys=True, default=str))
    first = json.loads(every[0])
    for rank, text in enumerate(every[1:], start=1):
        other = json.loads(text)
        if other != first:
            keys = sorted(k for group in ("config", "inputs")
                          for k in set(first.get(group, {})) | set(other.get(group, {}))
                          if first.get(group, {}).get(k) != other.get(group, {}).get(k))
            raise InputError(f"the {len(every)} processes of this launch read different setups: "
                             f"process {rank} differs from process 0 in {', '.join(keys)}. Every "
                             "process must read the same config file and data")
