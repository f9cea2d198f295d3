"""Bookkeeping of the codec recipe's training loop: the running means of the loss terms
kept on the device, the step loggers, the optimizers, DDP wrapping and sharding, and
checkpoint hygiene. The loss terms are :mod:`unicodec.losses.codec_terms`; the Brain itself
(what a step computes) is in ``recipes/LibriTTS/train.py``.

Authors
 * UniCodec authors 2026
"""

import logging
import os
import shutil

import torch
from speechbrain.utils.train_logger import FileTrainLogger, TensorboardLogger

logger = logging.getLogger(__name__)

class TermMeans:
    """Running means of named scalar tensors, summed on their device and read at once
    (no host synchronisation per step).

    Example
    -------
    >>> means = TermMeans()
    >>> means.add({"mel": torch.tensor(1.0)}); means.add({"mel": torch.tensor(3.0)})
    >>> means.read()
    {'mel': 2.0}
    >>> means.reset(); means.read()
    {}
    """

    def __init__(self):
        self.sums = {}

    def add(self, stats):
        """Adds each tensor of ``stats`` (name to a scalar tensor) to its sum."""
        for name, value in stats.items():
            total, count = self.sums.get(name, (0.0, 0))
            self.sums[name] = (total + value.detach().float(), count + 1)

    def read(self):
        """The means, as floats (one read from the device); under DDP, over every rank's
        terms (a collective: every rank calls it)."""
        names = sorted(self.sums)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            every = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(every, names)
            names = sorted(set().union(*every))
        if not names:
            return {}
        device = next(iter(self.sums.values()))[0].device if self.sums else "cpu"
        totals = torch.stack([
            torch.as_tensor(self.sums.get(n, (0.0, 0))[0], dtype=torch.float32, device=device)
            for n in names
        ])
        counts = torch.tensor([float(self.sums.get(n, (0.0, 0))[1]) for n in names],
                              device=device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(totals)
            torch.distributed.all_reduce(counts)
        return dict(zip(names, (totals / counts.clamp(min=1)).tolist()))

    def reset(self):
        self.sums = {}

    def __bool__(self):
        return bool(self.sums)


def shard_for_evaluation(dataset, loader_kwargs):
    """Loader keyword arguments that give each DDP rank its share of an evaluation set (a
    ``DistributedSampler`` without shuffling, or SpeechBrain's wrapper around a batch
    sampler); unchanged without DDP. The term means (:class:`TermMeans`) are then reduced
    over the ranks, so every rank logs and checkpoints the same figures."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return loader_kwargs
    from speechbrain.dataio.sampler import DistributedSamplerWrapper
    from torch.utils.data.distributed import DistributedSampler

    loader_kwargs = dict(loader_kwargs)
    if loader_kwargs.get("batch_sampler") is not None:
        loader_kwargs["batch_sampler"] = DistributedSamplerWrapper(
            loader_kwargs["batch_sampler"], shuffle=False
        )
    else:
        loader_kwargs["sampler"] = DistributedSampler(dataset, shuffle=False)
        loader_kwargs["shuffle"] = False
    return loader_kwargs


def gather_results(table, items):
    """Under DDP, every rank's ``table`` (a dict, e.g. utterance id to its scores) merged
    and every rank's ``items`` (a list) joined, in rank order; unchanged without DDP (a
    collective: every rank calls it)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return table, items
    every = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(every, (table, items))
    merged, joined = {}, []
    for rank_table, rank_items in every:
        merged.update(rank_table)
        joined.extend(rank_items)
    return merged, joined


def make_step_loggers(output_folder, interval):
    """The loggers of the training terms every ``interval`` optimizer steps (none when
    it is 0): a ``FileTrainLogger`` of ``<output_folder>/step_log.txt`` and SpeechBrain's
    ``TensorboardLogger`` of ``<output_folder>/tensorboard`` when tensorboard is
    installed. Every rank builds and calls them (they write on the main process only)."""
    if not interval:
        return []
    loggers = [FileTrainLogger(os.path.join(output_folder, "step_log.txt"))]
    try:
        loggers.append(TensorboardLogger(os.path.join(output_folder, "tensorboard")))
    except ImportError:
        logger.info("tensorboard is not installed: step logs in step_log.txt only")
    return loggers


def rank_and_world():
    """This process's rank and the number of ranks (0 and 1 without DDP)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def unwrap(module):
    """The module inside a DDP / DataParallel wrapper."""
    return getattr(module, "module", module)


def wrap_ddp(modules, device, find_unused_parameters=False):
    """Wraps the trainable modules in DDP, in place, without re-broadcasting buffers at
    every forward: the codebooks' EMA statistics are summed over ranks and their
    initialisations and restarts broadcast by the quantizers, so every rank holds the same
    buffers already (and the lobes have no batch norm, which SyncBatchNorm is for)."""
    on_cpu = str(device).startswith("cpu")
    for name, module in modules.items():
        if any(p.requires_grad for p in module.parameters()):
            modules[name] = torch.nn.parallel.DistributedDataParallel(
                module,
                device_ids=None if on_cpu else [device],
                find_unused_parameters=find_unused_parameters,
                broadcast_buffers=False,
            )


def drop_incomplete_checkpoints(checkpointer):
    """Deletes checkpoints that miss a recoverable's file (a save that was interrupted).

    SpeechBrain writes a checkpoint's meta file first and the parameter files after it,
    so a run killed while saving leaves a folder that cannot be recovered from; the
    previous complete checkpoint is then the one to resume from.
    """
    expected = {f"{name}.ckpt" for name in checkpointer.recoverables}
    for ckpt in checkpointer.list_checkpoints():
        missing = sorted(expected - set(os.listdir(ckpt.path)))
        if missing:
            logger.warning(
                f"checkpoint {ckpt.path} is incomplete (no {', '.join(missing)}): deleted"
            )
            shutil.rmtree(ckpt.path)


def write_samples(folder, samples, sample_rate, title):
    """Writes ``<id>_original.wav``, ``<id>_rebuilt.wav`` and a spectrogram comparison
    ``<id>.png`` for each ``(utt_id, wav, rebuilt, relative_length)`` of ``samples``."""
    from unicodec.evaluation.metrics import save_spectrogram_comparison
    import speechbrain as sb

    os.makedirs(folder, exist_ok=True)
    for utt_id, wav, rebuilt, length in samples:
        n = int(round(float(length) * wav.shape[0]))
        for tag, audio in (("original", wav[:n]), ("rebuilt", rebuilt[:n])):
            sb.dataio.dataio.write_audio(
                os.path.join(folder, f"{utt_id}_{tag}.wav"), audio.float(), sample_rate
            )
        save_spectrogram_comparison(
            os.path.join(folder, f"{utt_id}.png"), wav[:n], rebuilt[:n], sample_rate,
            title=f"{utt_id}, {title}",
        )


def make_optimizers(hparams, modules):
    """The generator's optimizer and scheduler (every module but the discriminators) and,
    when ``modules`` has ``discriminators``, theirs: two dicts by name (``generator``,
    ``discriminator``), from ``opt_class_*`` and ``scheduler_*`` of ``hparams``."""
    params = [p for k, m in modules.items() if k != "discriminators" for p in m.parameters()]
    optimizers = {"generator": hparams.opt_class_generator(params)}
    schedulers = {"generator": hparams.scheduler_generator(optimizers["generator"])}
    if "discriminators" in modules:
        optimizers["discriminator"] = hparams.opt_class_discriminator(
            modules["discriminators"].parameters()
        )
        schedulers["discriminator"] = hparams.scheduler_discriminator(
            optimizers["discriminator"]
        )
    return optimizers, schedulers


def step_optimizers(optimizers, scaler, max_grad_norm, skipped):
    """Unscales, clips and steps each optimizer that has gradients (those named in
    ``skipped``, whose loss was not finite, only drop theirs), then updates the scaler."""
    for name, opt in optimizers.items():
        if skipped.pop(name, False):
            opt.zero_grad(set_to_none=True)
            continue
        params = [p for g in opt.param_groups for p in g["params"]]
        if not any(p.grad is not None for p in params):
            continue  # e.g. the discriminator before it joins
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        scaler.step(opt)
        opt.zero_grad(set_to_none=True)
    scaler.update()


def move_unregistered_modules(hparams, modules, device, skip=()):
    """Moves the modules of ``hparams`` that are not in ``modules`` (losses with STFT
    windows or mel filters, the prosody targets, a teacher) to ``device``: SpeechBrain
    moves only ``modules``. Names in ``skip`` stay where they are."""
    registered = {id(m) for m in modules.values()}
    for name, value in vars(hparams).items():
        if name in skip or not isinstance(value, torch.nn.Module):
            continue
        if id(value) not in registered:
            value.to(device)
