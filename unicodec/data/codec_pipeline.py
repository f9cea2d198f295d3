"""The codec recipe's data pipeline: random crops, reference crops for G, phone and
teacher targets per crop, and the filling of the teacher cache.

:func:`dataio_prepare` builds SpeechBrain datasets from the manifests of
``recipes/LibriTTS/libritts_prepare.py``; :func:`fill_teacher_cache` computes the teacher
features the datasets read.

Authors
 * UniCodec authors 2026
"""

import json
import math
import os
import random

import speechbrain as sb
import torch
from tqdm import tqdm

from unicodec.data.audio import change_speed, load_audio
from unicodec.data.phones import phone_targets
from unicodec.data.teacher_cache import TeacherCache, cached_features
from unicodec.lengths import relative_to_count


def crop_bounds(num_samples, segment, step, rng):
    """Start of a random crop of ``segment`` samples, aligned to ``step``."""
    if num_samples <= segment:
        return 0
    return rng.randrange(0, (num_samples - segment) // step + 1) * step


def reference_bounds(num_samples, start, segment, reference, step, rng):
    """Start of the reference crop: outside ``[start, start + segment)`` when it fits."""
    before = start - reference
    after = num_samples - (start + segment) - reference
    choices = []
    if before >= 0:
        choices.append(rng.randrange(0, before // step + 1) * step)
    if after >= 0:
        choices.append(start + segment + rng.randrange(0, after // step + 1) * step)
    if choices:
        return rng.choice(choices)
    # too short for two disjoint crops: the part farthest from the rebuilt one
    return 0 if start > num_samples - (start + segment) else max(num_samples - reference, 0)


def crop_features(feats, start, num_samples, hop_length):
    """The frames of whole-utterance features ``[N, D]`` that a crop covers: from
    ``start // hop_length``, ``ceil(num_samples / hop_length)`` of them (fewer at the end).

    Example
    -------
    >>> crop_features(torch.arange(10.0)[:, None], start=640, num_samples=700,
    ...               hop_length=320).flatten().tolist()
    [2.0, 3.0, 4.0]
    """
    first = start // hop_length
    return feats[first: first + math.ceil(num_samples / hop_length)]


def teacher_dtype(hparams):
    """The stored type of the teacher cache (``teacher_cache_dtype``, default float16)."""
    name = hparams.get("teacher_cache_dtype") or "float16"
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"teacher_cache_dtype: {name!r} is no floating torch dtype")
    return dtype


def speed_factors(hparams):
    """The speed factors training crops are drawn from (``speed_perturb``; ``[1.0]``
    without it), each as likely: a list of positive numbers, 1.0 for the voice as it is.

    Example
    -------
    >>> speed_factors({"speed_perturb": [0.9, 1, 1.1]})
    [0.9, 1.0, 1.1]
    >>> speed_factors({})
    [1.0]
    """
    speeds = hparams.get("speed_perturb") or [1.0]
    try:
        speeds = [round(float(s), 2) for s in speeds]
    except (TypeError, ValueError):
        raise ValueError(f"speed_perturb: {speeds!r} is no list of numbers") from None
    if any(s <= 0 for s in speeds):
        raise ValueError(f"speed_perturb: {speeds!r} holds a factor <= 0")
    return speeds


def dataio_prepare(hparams, codec):
    """Datasets with the audio pipelines (crops for training, whole utterances otherwise).

    Reads ``train.json``, ``valid.json`` and ``test.json`` of ``hparams["output_folder"]``
    (:func:`prepare_libritts`); training items are a random crop (``sig``), a reference
    crop of the same utterance for G (``ref``), the crop's start, the encoded speaker and,
    when the hparams give them, frame phone ids and the teacher's targets: with
    ``teacher_cache_folder``, the cached features of the crop (``teacher_feats``), else the
    whole utterance and the crop's start (``audio``, ``start``), which the recipe gives the
    teacher online, so that both ways give the same targets. With ``speed_perturb``, each
    training utterance is first played at a speed drawn from it (:func:`speed_factors`,
    :func:`unicodec.data.audio.change_speed`): its phone targets follow, and a voice so
    changed is no training speaker's (no class for the speaker losses). Returns the
    datasets and the speaker label encoder.
    """
    sample_rate = hparams["sample_rate"]
    step = codec.samples_per_step
    segment = max(step, int(hparams["segment_seconds"] * sample_rate) // step * step)
    reference = max(step, int(hparams["reference_seconds"] * sample_rate) // step * step)
    eval_max = int(hparams["eval_max_seconds"] * sample_rate) // step * step
    frame_rate = codec.frame_rate
    # Python's `random` module: seeded by seed_everything in the main process and, in each
    # data-loader worker, by PyTorch from a base seed drawn anew for every epoch, so the
    # workers draw different crops and each epoch draws new ones (a Random object made
    # here would be copied, in the same state, into every worker of every epoch)
    rng = random

    phone_to_id = None
    if hparams.get("phone_inventory") and os.path.isfile(hparams["phone_inventory"]):
        with open(hparams["phone_inventory"], encoding="utf-8") as f:
            phone_to_id = json.load(f)["phone_to_id"]
        if len(phone_to_id) > hparams["num_phones"]:
            raise ValueError(
                f"{hparams['phone_inventory']} has {len(phone_to_id)} phones, more than "
                f"num_phones={hparams['num_phones']}"
            )

    datasets = {}
    for split in ("train", "valid", "test"):
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_json(
            json_path=os.path.join(hparams["output_folder"], f"{split}.json")
        )

    speeds = speed_factors(hparams)
    if speeds != [1.0] and hparams.get("teacher_cache_folder"):
        raise ValueError(
            "speed_perturb with teacher_cache_folder: the cache holds the teacher's features "
            "of the voices as they are (leave teacher_cache_folder out: the teacher runs online)"
        )

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("audio", "sig", "ref", "start", "speed")
    def train_audio(path):
        speed = rng.choice(speeds) if len(speeds) > 1 else speeds[0]
        audio = change_speed(load_audio(path, sample_rate), speed)
        start = crop_bounds(audio.shape[0], segment, step, rng)
        ref_start = reference_bounds(audio.shape[0], start, segment, reference, step, rng)
        yield audio
        yield audio[start: start + segment]
        yield audio[ref_start: ref_start + reference]
        yield start
        yield speed

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("audio", "sig", "ref", "start", "speed")
    def eval_audio(path):
        audio = load_audio(path, sample_rate)[:eval_max]
        yield audio
        yield audio
        yield audio
        yield 0
        yield 1.0

    sb.dataio.dataset.add_dynamic_item([datasets["train"]], train_audio)
    sb.dataio.dataset.add_dynamic_item([datasets["valid"], datasets["test"]], eval_audio)

    label_encoder = sb.dataio.encoder.CategoricalEncoder()
    label_encoder.load_or_create(
        path=os.path.join(hparams["save_folder"], "speakers.txt"),
        from_didatasets=[datasets["train"]],
        output_key="spk_id",
    )
    if "num_speakers" in hparams and len(label_encoder) > hparams["num_speakers"]:
        raise ValueError(
            f"{len(label_encoder)} training speakers, more than num_speakers="
            f"{hparams['num_speakers']}: pass --num_speakers {len(label_encoder)} or more"
        )

    @sb.utils.data_pipeline.takes("spk_id", "speed")
    @sb.utils.data_pipeline.provides("spk_id_encoded")
    def speaker_pipeline(spk_id, speed):
        # held-out speakers (valid/test) and sped-up or slowed-down voices, which are
        # nobody's, have no class: -100 is ignored by the losses
        index = label_encoder.lab2ind.get(spk_id, -100) if speed == 1.0 else -100
        return torch.LongTensor([index])

    keys = ["id", "sig", "ref", "spk_id_encoded"]
    sb.dataio.dataset.add_dynamic_item(list(datasets.values()), speaker_pipeline)

    if phone_to_id is not None:

        @sb.utils.data_pipeline.takes("alignment", "sig", "start", "speed")
        @sb.utils.data_pipeline.provides("phones")
        def phone_pipeline(alignment, sig, start, speed):
            first = start // codec.hop_length
            num = math.ceil(sig.shape[0] / codec.hop_length)
            frames = phone_targets(
                alignment, phone_to_id, num_frames=first + num, frame_rate=frame_rate / speed
            )
            return frames[first: first + num]

        sb.dataio.dataset.add_dynamic_item(list(datasets.values()), phone_pipeline)
        keys.append("phones")

    if hparams.get("teacher") is not None and not hparams.get("teacher_cache_folder"):
        keys += ["audio", "start"]  # the teacher runs online on the whole utterance
    if hparams.get("teacher") is not None and hparams.get("teacher_cache_folder"):
        cache = TeacherCache(
            hparams["teacher_cache_folder"], fingerprint=hparams["teacher"],
            dtype=teacher_dtype(hparams),
        )

        @sb.utils.data_pipeline.takes("id", "sig", "start")
        @sb.utils.data_pipeline.provides("teacher_feats")
        def teacher_pipeline(utt_id, sig, start):
            # whole-utterance features (filled by fill_teacher_cache), cut to the crop
            feats = cache.get(utt_id)
            if feats is None:
                raise RuntimeError(
                    f"no cached teacher features for {utt_id} in {cache.folder}: "
                    "fill_teacher_cache runs before training"
                )
            return crop_features(feats, start, sig.shape[0], codec.hop_length)

        sb.dataio.dataset.add_dynamic_item(list(datasets.values()), teacher_pipeline)
        keys.append("teacher_feats")

    for dataset in datasets.values():
        dataset.set_output_keys(keys)
    return datasets, label_encoder


def loader_options(hparams, datasets):
    """Data-loader keyword arguments of each split.

    Fixed batches of ``batch_size`` by default (training shuffled, last partial batch
    dropped). With ``dynamic_batching: True``, SpeechBrain's ``DynamicBatchSampler``
    instead: batches of similar lengths whose padded audio stays within
    ``max_batch_seconds`` (``max_eval_batch_seconds`` for valid and test, default the
    same), from ``num_buckets`` length buckets; a training item's length is its crop's
    (at most ``segment_seconds``), an evaluation item's at most ``eval_max_seconds``.
    Under DDP, SpeechBrain shards either across the ranks.

    Arguments
    ---------
    hparams : dict
    datasets : dict
        ``train``, ``valid`` and ``test`` ``DynamicItemDataset``s.

    Returns
    -------
    dict
        Split to keyword arguments of ``Brain.fit``/``Brain.evaluate``'s loaders.
    """
    common = {"num_workers": hparams.get("num_workers", 0)}
    if not hparams.get("dynamic_batching", False):
        fixed = {**common, "batch_size": hparams["batch_size"]}
        return {
            "train": {**fixed, "shuffle": True, "drop_last": True},
            "valid": dict(fixed),
            "test": dict(fixed),
        }
    from speechbrain.dataio.sampler import DynamicBatchSampler

    options = {}
    for split, dataset in datasets.items():
        train = split == "train"
        longest = hparams["segment_seconds"] if train else hparams["eval_max_seconds"]
        budget = hparams["max_batch_seconds"] if train else hparams.get(
            "max_eval_batch_seconds", hparams["max_batch_seconds"]
        )
        if budget < longest:
            raise ValueError(
                f"max_batch_seconds ({budget}) < the longest {split} item ({longest} s)"
            )
        sampler = DynamicBatchSampler(
            dataset,
            max_batch_length=budget,
            num_buckets=hparams.get("num_buckets", 10),
            length_func=lambda item, longest=longest: min(float(item["duration"]), longest),
            shuffle=train,
            batch_ordering="random" if train else "descending",
            seed=hparams.get("seed", 42),
        )
        options[split] = {**common, "batch_sampler": sampler}
    return options


def online_teacher_targets(teacher, audio, audio_lens, starts, num_samples, hop_length):
    """The teacher's targets of a batch of crops, computed online as the cache computes
    them: the teacher on each whole utterance alone (no padding), cut to its crop.

    Arguments
    ---------
    teacher : SSLTeacher
    audio, audio_lens : torch.Tensor
        ``[B, T]`` whole utterances and their relative lengths.
    starts : sequence of int
        Start sample of each crop.
    num_samples : int
        Samples of the (padded) crops.
    hop_length : int
        Samples per frame.

    Returns
    -------
    torch.Tensor
        ``[B, ceil(num_samples / hop_length), D]``, zero where an utterance ends first.
    """
    lengths = relative_to_count(audio_lens, audio.shape[1]).clamp(min=1).tolist()
    frames = math.ceil(num_samples / hop_length)
    out = None
    with torch.no_grad():
        for b, (length, start) in enumerate(zip(lengths, starts)):
            feats = teacher(audio[b: b + 1, :length])[0]
            feats = crop_features(feats, int(start), num_samples, hop_length)
            if out is None:
                out = feats.new_zeros(audio.shape[0], frames, feats.shape[-1])
            out[b, : feats.shape[0]] = feats
    return out


def fill_teacher_cache(hparams, datasets, device, rank=0, world_size=1):
    """Computes, on ``device``, the teacher features of every utterance the cache lacks.

    Runs before training, so that the data-loader workers only read the cache (a teacher on
    a GPU cannot run in forked workers). Under DDP every rank calls it with its ``rank``
    and fills its share of the missing utterances (then waits for the others); the
    features are stored as ``teacher_cache_dtype`` (float16 by default: half the disk).
    """
    teacher = hparams["teacher"].to(device)
    cache = TeacherCache(
        hparams["teacher_cache_folder"], fingerprint=teacher, dtype=teacher_dtype(hparams)
    )
    for split, dataset in datasets.items():
        with dataset.output_keys_as(["id", "audio"]):
            missing = [
                i for i, utt_id in enumerate(dataset.data_ids)
                if not os.path.exists(cache.path(utt_id))
            ][rank::world_size]
            desc = f"teacher features ({split})" + (f", rank {rank}" if world_size > 1 else "")
            for index in tqdm(missing, desc=desc, disable=not missing):
                item = dataset[index]
                cached_features(
                    teacher, [item["id"]], item["audio"].unsqueeze(0).to(device), cache=cache
                )
