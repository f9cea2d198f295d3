"""Training throughput of a recipe config on the current device.

Runs the recipe's own training step (``UniCodecBrain.fit_batch``: a discriminator step
and a generator step with every loss term of the config, the discriminators on) on
synthetic speech-like batches of the config's batch size and crop length, and beside it
a plain reconstruction-only step (the codec, the mel loss, one optimizer) as the
reference; prints audio seconds per wall second, steps per second and peak memory.

A config with a self-supervised teacher gets a randomly initialised one, run online:
``--teacher base`` a HuBERT-base-sized model (95M parameters, the real teacher's cost),
``--teacher tiny`` a small one.

Usage::

    python benchmarks/train_throughput.py hparams/unicodec_cpu.yaml --steps 20
    python benchmarks/train_throughput.py hparams/unicodec.yaml --teacher base --steps 5
    python benchmarks/train_throughput.py hparams/unicodec.yaml --device cuda:0 --precision bf16

``--recipe`` times another copy of ``train.py`` (e.g. an older one) in the same run.
"""

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RECIPE = os.path.join(ROOT, "recipes", "LibriTTS", "train.py")


def load_recipe(path):
    """The recipe module at ``path`` (its folder on ``sys.path`` for its imports)."""
    sys.path.insert(0, os.path.join(ROOT, "recipes", "LibriTTS"))
    spec = importlib.util.spec_from_file_location(f"recipe_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_teacher(folder, size):
    """Saves a randomly initialised HuBERT (``base``: the real model's shape) to
    ``folder``; returns its hidden size."""
    import transformers

    if size == "base":
        config = transformers.HubertConfig()  # 12 layers, 768 wide, the base conv stack
    else:
        config = transformers.HubertConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
            conv_dim=(32,) * 7,
        )
    torch.manual_seed(0)
    transformers.HubertModel(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)
    return config.hidden_size


def load_hparams(config, overrides):
    from hyperpyyaml import load_hyperpyyaml

    with open(config, encoding="utf-8") as f:
        return load_hyperpyyaml(f, overrides)


def speech_batch(batch_size, seconds, sample_rate, num_phones, num_speakers, seed=0):
    """A PaddedBatch like the recipe's: crops, reference crops, speakers, phones."""
    from speechbrain.dataio.batch import PaddedBatch

    generator = torch.Generator().manual_seed(seed)
    samples = int(seconds * sample_rate)
    t = torch.arange(samples) / sample_rate
    items = []
    for i in range(batch_size):
        f0 = 90 + 150 * torch.rand((), generator=generator)
        vibrato = 1 + 0.05 * torch.sin(2 * torch.pi * 3 * t)
        phase = torch.cumsum(2 * torch.pi * f0 * vibrato / sample_rate, 0)
        wav = sum(torch.sin(k * phase) / k for k in range(1, 12)) * 0.1
        wav = wav + 0.01 * torch.randn(samples, generator=generator)
        frames = samples // 320 + 1
        items.append({
            "id": f"u{i}",
            "sig": wav,
            "ref": wav.flip(0),
            "audio": wav,  # the whole utterance an online teacher sees (here: the crop)
            "start": 0,
            "spk_id_encoded": torch.LongTensor([i % num_speakers]),
            "phones": torch.randint(0, num_phones, (frames,), generator=generator),
        })
    return PaddedBatch(items)


def measure(step, steps, warmup, device):
    """Median seconds per step and the peak memory (GiB) over ``steps`` steps."""
    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:  # the process's peak resident memory (Linux reports KiB)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return statistics.median(times), peak


def recipe_step(recipe, hparams, device, precision):
    """The recipe's training step on one fixed batch (discriminators on)."""
    import speechbrain as sb

    brain = recipe.UniCodecBrain(
        modules=hparams["modules"],
        hparams=hparams,
        run_opts={"device": device, "precision": precision, "noprogressbar": True},
        checkpointer=None,
    )
    brain.on_fit_start()
    hparams["epoch_counter"].current = hparams["adversarial_start_epoch"] + 1
    brain.on_stage_start(sb.Stage.TRAIN, hparams["epoch_counter"].current)
    brain.modules.train()
    batch = speech_batch(
        hparams["batch_size"], hparams["segment_seconds"], hparams["sample_rate"],
        hparams.get("num_phones", 2), hparams.get("num_speakers", 2),
    )

    def step():
        brain.step += 1
        brain.fit_batch(batch)

    return step


def reconstruction_step(hparams, device, precision):
    """The codec, the mel loss and one Adam step: the reference cost."""
    codec = hparams["codec"].to(device).train()
    mel_loss = hparams["mel_loss"].to(device)
    optimizer = torch.optim.Adam(codec.parameters(), lr=1e-4)
    batch = speech_batch(hparams["batch_size"], hparams["segment_seconds"],
                         hparams["sample_rate"], 2, 2)
    wav = batch.sig.data.to(device)
    lens = batch.sig.lengths.to(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def step():
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            out = codec(wav, lens)
            loss = mel_loss(out.wav, wav, lens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default="hparams/unicodec_cpu.yaml")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument("--batch_size", type=int, default=None)
    parser.add_argument("--teacher", default="base", choices=["base", "tiny"],
                        help="size of the random teacher of a config that distills one")
    parser.add_argument("--recipe", action="append", default=None,
                        help="train.py to time (repeatable; default the recipe's)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reconstruction-only step")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"data_folder": tmp, "output_folder": tmp}
        with open(args.config, encoding="utf-8") as f:
            text = f.read()
        if "teacher_source" in text:
            folder = os.path.join(tmp, "teacher")
            overrides.update(teacher_source=folder,
                             teacher_layer=9 if args.teacher == "base" else 2,
                             teacher_dim=random_teacher(folder, args.teacher),
                             teacher_cache_folder="")
        if args.batch_size:
            overrides["batch_size"] = args.batch_size
        rows = []
        for path in args.recipe or [DEFAULT_RECIPE]:
            hparams = load_hparams(args.config, overrides)
            step = recipe_step(load_recipe(path), hparams, args.device, args.precision)
            rows.append((f"recipe step ({os.path.relpath(path, ROOT)})", hparams,
                         *measure(step, args.steps, args.warmup, args.device)))
        if not args.no_reference:
            hparams = load_hparams(args.config, overrides)
            step = reconstruction_step(hparams, args.device, args.precision)
            rows.append(("reconstruction only (codec + mel)", hparams,
                         *measure(step, args.steps, args.warmup, args.device)))
    threads = torch.get_num_threads()
    print(f"config     {args.config}  device {args.device} ({threads} CPU threads), "
          f"precision {args.precision}, {args.steps} timed steps after {args.warmup}")
    for name, hparams, seconds, peak in rows:
        audio = hparams["batch_size"] * hparams["segment_seconds"]
        print(f"{name:45s} {1 / seconds:7.3f} steps/s  {audio / seconds:8.2f} audio-s/s  "
              f"peak {peak:6.2f} GiB  (batch {hparams['batch_size']} x "
              f"{hparams['segment_seconds']:g} s)")


if __name__ == "__main__":
    main()
