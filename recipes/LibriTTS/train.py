#!/usr/bin/env python3
"""Recipe for training UniCodec on LibriTTS (or the embedded synthetic corpus).

Each batch takes a discriminator step, then a generator step: multi-resolution
reconstruction, adversarial and feature-matching losses, the quantizers' commitment, the
distillation of S (a self-supervised teacher or phone targets) and the disentanglement
losses. At the end the test split is resynthesized and scored, and an inference folder
that ``foreign_class`` loads is exported.

To run:
    python recipes/LibriTTS/train.py hparams/unicodec.yaml --data_folder /path/to/LibriTTS
    torchrun --nproc_per_node=2 recipes/LibriTTS/train.py hparams/unicodec_cpu.yaml \
        --data_folder data/embedded --distributed_backend gloo

Authors
 * UniCodec authors 2026
"""

import json
import logging
import os
import random
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import if_main_process, run_on_main

from unicodec.data.codec_pipeline import (
    dataio_prepare,
    fill_teacher_cache,
    loader_options,
    online_teacher_targets,
)
from unicodec.evaluation.metrics import ResynthesisMetrics, codebook_usage
from unicodec.export import export_model
from unicodec.losses.codec_terms import check_loss_weights, codec_terms, weighted_sum
from unicodec.training import (
    TermMeans,
    drop_incomplete_checkpoints,
    gather_results,
    make_optimizers,
    make_step_loggers,
    move_unregistered_modules,
    rank_and_world,
    shard_for_evaluation,
    step_optimizers,
    unwrap,
    wrap_ddp,
    write_samples,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from libritts_prepare import prepare_from_hparams  # noqa: E402

logger = logging.getLogger(__name__)


class UniCodecBrain(sb.Brain):
    """Trains UniCodec with a discriminator and a generator step per batch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # a teacher whose features come from the cache stays on the host (the cache
        # filling moves it to the device for that alone)
        cached = bool(getattr(self.hparams, "teacher_cache_folder", None))
        move_unregistered_modules(
            self.hparams, self.modules, self.device, skip=("teacher",) if cached else ()
        )

    # ------------------------------------------------------------ forward
    def compute_forward(self, batch, stage):
        """Encodes, quantizes and decodes the batch (G sees the reference crop)."""
        # read on the host before the move: no device synchronisation per step
        self.labelled = bool((batch.spk_id_encoded.data >= 0).any())  # held-out: no class
        batch = batch.to(self.device)
        wav, lens = batch.sig
        ref, ref_lens = batch.ref
        return self.modules.codec(wav, lens, reference=ref, reference_lens=ref_lens)

    def _adversarial_on(self, stage):
        return (
            "discriminators" in self.modules
            and stage == sb.Stage.TRAIN
            and self.hparams.epoch_counter.current > self.hparams.adversarial_start_epoch
        )

    def _generator_terms(self, out, batch, stage):
        """Every generator-side loss term, unweighted, by name."""
        wav, lens = batch.sig
        terms = codec_terms(
            out, wav, lens, self.hparams, self.modules,
            phones=batch.phones.data if hasattr(batch, "phones") else None,
            speakers=batch.spk_id_encoded.data.flatten() if self.labelled else None,
            teacher_targets=lambda frames: self._teacher_targets(batch, frames),
        )
        if self._adversarial_on(stage):
            disc = unwrap(self.modules.discriminators)
            for p in disc.parameters():  # the generator step leaves D untouched
                p.requires_grad_(False)
            # the discriminator step of this batch saw the same real window with the
            # same weights: its features of the real audio are reused, not recomputed
            real_feats = self.real_features
            rebuilt = out.wav if real_feats is not None else torch.cat([wav, out.wav])
            try:
                scores, feats = disc(self._adversarial_crop(rebuilt))
            finally:
                for p in disc.parameters():
                    p.requires_grad_(True)
            fake_scores, fake_feats = scores, feats
            if real_feats is None:
                batch_size = wav.shape[0]
                fake_scores = [s[batch_size:] for s in scores]
                real_feats = [[f[:batch_size].detach() for f in fs] for fs in feats]
                fake_feats = [[f[batch_size:] for f in fs] for fs in feats]
            terms["adversarial"] = self.hparams.generator_adversarial_loss(fake_scores)
            terms["feature_matching"] = self.hparams.feature_matching_loss(
                fake_feats, real_feats
            )
        return terms

    def _adversarial_crop(self, wav):
        """The window of the batch the discriminators judge in this step.

        A random window of ``adversarial_segment_seconds`` (the same for the real and the
        rebuilt halves, drawn once per step so both optimizer steps see the same one).
        """
        length = int(self.hparams.adversarial_segment_seconds * self.hparams.sample_rate)
        if length <= 0 or wav.shape[1] <= length:
            return wav
        if self.adversarial_start is None:
            self.adversarial_start = random.randrange(0, wav.shape[1] - length + 1)
        return wav[:, self.adversarial_start: self.adversarial_start + length]

    def _teacher_targets(self, batch, num_frames):
        """Teacher features of the training crops, ``[B, num_frames, D]``."""
        if hasattr(batch, "teacher_feats"):
            feats = batch.teacher_feats.data
        else:
            audio, audio_lens = batch.audio
            feats = online_teacher_targets(
                self.hparams.teacher, audio, audio_lens, batch.start,
                batch.sig.data.shape[1], unwrap(self.modules.codec).hop_length,
            )
        feats = feats[:, :num_frames]
        if feats.shape[1] < num_frames:
            feats = torch.nn.functional.pad(feats, (0, 0, 0, num_frames - feats.shape[1]))
        return feats.to(self.device)

    # ------------------------------------------------------------ training step
    def fit_batch(self, batch):
        """A discriminator step, then a generator step (both under AMP when asked)."""
        should_step = (self.step % self.grad_accumulation_factor) == 0
        self.adversarial_start = None
        self.real_features = None
        with self.no_sync(not should_step):
            with self.training_ctx:
                out = self.compute_forward(batch, sb.Stage.TRAIN)
            stats = {}
            if self._adversarial_on(sb.Stage.TRAIN):
                wav = batch.sig.data.to(self.device)
                with self.training_ctx:
                    scores, feats = self.modules.discriminators(
                        self._adversarial_crop(torch.cat([wav, out.wav.detach()]))
                    )
                    real = [s[: wav.shape[0]] for s in scores]
                    fake = [s[wav.shape[0]:] for s in scores]
                    self.real_features = [
                        [f[: wav.shape[0]].detach() for f in fs] for fs in feats
                    ]
                    loss_d, _, _ = self.hparams.discriminator_adversarial_loss(fake, real)
                self._backward(loss_d, "discriminator")
                stats["discriminator"] = loss_d.detach()
            with self.training_ctx:
                terms = self._generator_terms(out, batch, sb.Stage.TRAIN)
                loss_g = weighted_sum(terms, self.hparams.loss_weights)
            self._backward(loss_g, "generator")
        if should_step:
            self._step_optimizers()
        stats.update({name: value.detach() for name, value in terms.items()})
        stats["generator"] = loss_g.detach()
        self._accumulate(stats)
        if should_step:
            self._log_interval()
        return loss_g.detach()

    def _backward(self, loss, name):
        """Backward of one optimizer's loss; a non-finite loss is counted and skipped."""
        if not torch.isfinite(loss):
            self.check_loss_isfinite(loss)  # raises once the patience is exhausted
            logger.warning(f"non-finite {name} loss at step {self.step}: skipped")
            self.skipped[name] = True
            return
        self.scaler.scale(loss / self.grad_accumulation_factor).backward()

    def _step_optimizers(self):
        step_optimizers(self.optimizers_dict, self.scaler, self.max_grad_norm, self.skipped)
        self.optimizer_step += 1

    def init_optimizers(self):
        """Two optimizers (and their schedulers), registered under stable names."""
        self.optimizers_dict, self.schedulers = make_optimizers(self.hparams, self.modules)
        self.skipped = {}
        if self.checkpointer is not None:
            for name, opt in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(f"optimizer_{name}", opt)
            for name, scheduler in self.schedulers.items():
                self.checkpointer.add_recoverable(f"scheduler_{name}", scheduler)
            # every recoverable is registered now, and recovery comes next
            run_on_main(drop_incomplete_checkpoints, args=[self.checkpointer])

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """SpeechBrain's; under DDP the validation and test sets are sharded across the
        ranks (the term means are reduced over them, the test's per-utterance scores and
        tokens gathered; an utterance the sampler repeats to even the shards counts once
        in the scores)."""
        if stage != sb.Stage.TRAIN:
            loader_kwargs = shard_for_evaluation(dataset, loader_kwargs)
        return super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)

    def _wrap_distributed(self):
        """DDP without re-broadcasting buffers each forward (see ``wrap_ddp``)."""
        if not self.distributed_launch:
            return super()._wrap_distributed()
        wrap_ddp(self.modules, self.device, self.find_unused_parameters)

    # ------------------------------------------------------------ statistics
    def _accumulate(self, stats):
        """The terms join the stage's means (and, in training, the interval's)."""
        self.term_means.add(stats)
        if self.interval_means is not None:
            self.interval_means.add(stats)

    def on_fit_start(self):
        """SpeechBrain's, and the loggers of every ``log_interval_steps`` steps."""
        super().on_fit_start()
        self.step_loggers = make_step_loggers(
            self.hparams.output_folder, getattr(self.hparams, "log_interval_steps", 0)
        )

    def _log_interval(self):
        interval = getattr(self.hparams, "log_interval_steps", 0) or 0
        if not interval or self.optimizer_step % interval or not self.interval_means:
            return
        stats = self.interval_means.read()
        self.interval_means.reset()
        meta = {"step": self.optimizer_step, "epoch": self.hparams.epoch_counter.current}
        for step_logger in getattr(self, "step_loggers", []):
            step_logger.log_stats(stats_meta=meta, train_stats=stats)

    def on_stage_start(self, stage, epoch=None):
        """Resets the per-term averages."""
        self.real_features = None
        self.term_means = TermMeans()
        self.interval_means = TermMeans() if stage == sb.Stage.TRAIN else None
        self.eval_outputs = []
        if stage == sb.Stage.TEST:
            self.metrics = ResynthesisMetrics(sample_rate=self.hparams.sample_rate)

    def evaluate_batch(self, batch, stage):
        """Rebuilds full utterances (G from the utterance itself) and scores them."""
        with torch.no_grad():
            out = self.compute_forward(batch, stage)
            terms = self._generator_terms(out, batch, stage)
            loss = weighted_sum(terms, self.hparams.loss_weights)
        self._accumulate({**terms, "generator": loss.detach()})
        wav, lens = batch.sig
        wav = wav.to(self.device)
        if stage == sb.Stage.TEST:
            self.metrics.append(batch.id, out.wav, wav, lens)
            self.eval_outputs.append(out.tokens.to("cpu"))
        else:
            for i, utt_id in enumerate(batch.id):
                if len(self.eval_outputs) < self.hparams.num_samples_to_write:
                    self.eval_outputs.append((utt_id, wav[i].cpu(), out.wav[i].cpu(), lens[i]))
        return loss.detach().cpu()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs every term, steps the schedulers, saves checkpoints and samples."""
        stats = {"loss": stage_loss, **self.term_means.read()}
        if stage != sb.Stage.TRAIN:  # the same on every rank (the weighted sum, reduced)
            stats["loss"] = stats.get("generator", stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        if stage == sb.Stage.VALID:
            lrs = {f"lr_{n}": o.param_groups[0]["lr"] for n, o in self.optimizers_dict.items()}
            for name, scheduler in self.schedulers.items():
                if name == "generator" or self._adversarial_on(sb.Stage.TRAIN):
                    scheduler.step()
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, **lrs},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            if if_main_process():
                write_samples(
                    os.path.join(self.hparams.samples_folder, f"epoch_{epoch}"),
                    self.eval_outputs, self.hparams.sample_rate, f"epoch {epoch}",
                )
            # the mel distance picks the best checkpoint: the total also holds the fit of
            # CLUB's variational network, which says nothing about the codec
            self.checkpointer.save_and_keep_only(
                meta={"loss": stats["loss"], "mel": stats["mel"]}, min_keys=["mel"]
            )
        if stage == sb.Stage.TEST:
            self.metrics.scores, self.eval_outputs = gather_results(
                self.metrics.scores, self.eval_outputs
            )
            stats.update(self.metrics.summarize())
            stats.update(codebook_usage(self.eval_outputs, unwrap(self.modules.codec)))
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            self.test_stats = stats


def prepare_on_main(hparams):
    """The data preparation, on the main process only; its error, if any, on every rank.

    Under torchrun the other ranks wait for the main one: an error that ended the main
    process alone would leave them on a closed connection (or waiting, with launchers
    that do not stop them). Its message is sent to every rank instead: a missing data
    folder or a bad option stops each with the same one-line error; anything else is
    raised as it is on the main process and as a RuntimeError naming it on the others.
    """
    error, failure = None, None
    if if_main_process():
        try:
            prepare_from_hparams(hparams)
        except Exception as err:  # every rank must reach the broadcast below
            kind = next((k.__name__ for k in (FileNotFoundError, ValueError)
                         if isinstance(err, k)), type(err).__name__)
            error, failure = (kind, str(err)), err
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        shared = [error]
        torch.distributed.broadcast_object_list(shared, src=0)  # also the barrier
        error = shared[0]
    if error is None:
        return
    kind, message = error
    if kind in ("FileNotFoundError", "ValueError"):
        raise (FileNotFoundError if kind == "FileNotFoundError" else ValueError)(message)
    if failure is not None:
        raise failure
    raise RuntimeError(f"the data preparation failed on the main process: {kind}: {message}")


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    if "cuda" in (run_opts.get("device") or "") and not torch.cuda.is_available():
        # SpeechBrain 1.0.x defaults to cuda:0 even without a GPU (1.1 picks the CPU then)
        logger.warning(f"device {run_opts['device']} is not available: training on the CPU")
        run_opts["device"] = "cpu"
    sb.utils.distributed.ddp_init_group(run_opts)  # no-op unless launched by torchrun
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)

    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    try:  # what the command line names (data, loss weights, speakers): one line, no traceback
        prepare_on_main(hparams)
        check_loss_weights(hparams["loss_weights"])
        codec = hparams["codec"]
        logger.info(f"UniCodec tokens: {codec.bitrate_report()}")
        datasets, _ = dataio_prepare(hparams, codec)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"{os.path.basename(__file__)}: error: {err}")

    brain = UniCodecBrain(
        modules=hparams["modules"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    if hparams.get("teacher") is not None and hparams.get("teacher_cache_folder"):
        # every rank fills its share, then all wait; the teacher leaves the device after
        rank, world = rank_and_world()
        fill_teacher_cache(hparams, datasets, brain.device, rank=rank, world_size=world)
        sb.utils.distributed.ddp_barrier()
        hparams["teacher"].to("cpu")
    loaders = loader_options(hparams, datasets)
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=loaders["train"],
        valid_loader_kwargs=loaders["valid"],
    )
    # the last checkpoint: after adversarial training the lowest valid mel is often an
    # early one, whose phase and harmonics the discriminators had not refined yet
    brain.evaluate(datasets["test"], test_loader_kwargs=loaders["test"])
    if if_main_process():
        export_model(
            unwrap(brain.modules.codec),
            os.path.join(os.path.dirname(os.path.abspath(hparams_file)), hparams["model_config"]),
            hparams["export_folder"],
        )
        with open(os.path.join(hparams["output_folder"], "test_metrics.json"), "w") as f:
            json.dump(brain.test_stats, f, indent=2)
        logger.info(
            f"Done. Samples: {hparams['samples_folder']}  metrics: "
            f"{os.path.join(hparams['output_folder'], 'test_metrics.json')}  "
            f"model: {hparams['export_folder']}"
        )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # every rank waits for the export, then leaves the process group: a rank that exits
        # with it still open can abort in gloo's teardown
        sb.utils.distributed.ddp_barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
