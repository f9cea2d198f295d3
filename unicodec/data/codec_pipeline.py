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

from unicodec.data.audio import load_audio
from unicodec.data.phones import phone_targets
from unicodec.data.teacher_cache import TeacherCache, cached_features


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


def dataio_prepare(hparams, codec):
    """Datasets with the audio pipelines (crops for training, whole utterances otherwise).

    Reads ``train.json``, ``valid.json`` and ``test.json`` of ``hparams["output_folder"]``
    (:func:`prepare_libritts`); training items are a random crop (``sig``), a reference
    crop of the same utterance for G (``ref``), the crop's start, the encoded speaker and,
    when the hparams give them, frame phone ids and the cached teacher features of the
    crop. Returns the datasets and the speaker label encoder.
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

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("audio", "sig", "ref", "start")
    def train_audio(path):
        audio = load_audio(path, sample_rate)
        start = crop_bounds(audio.shape[0], segment, step, rng)
        ref_start = reference_bounds(audio.shape[0], start, segment, reference, step, rng)
        yield audio
        yield audio[start: start + segment]
        yield audio[ref_start: ref_start + reference]
        yield start

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("audio", "sig", "ref", "start")
    def eval_audio(path):
        audio = load_audio(path, sample_rate)[:eval_max]
        yield audio
        yield audio
        yield audio
        yield 0

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
            f"{hparams['num_speakers']}"
        )

    @sb.utils.data_pipeline.takes("spk_id")
    @sb.utils.data_pipeline.provides("spk_id_encoded")
    def speaker_pipeline(spk_id):
        # held-out speakers (valid/test) have no class: -100 is ignored by the losses
        index = label_encoder.lab2ind.get(spk_id, -100)
        return torch.LongTensor([index])

    keys = ["id", "sig", "ref", "spk_id_encoded"]
    sb.dataio.dataset.add_dynamic_item(list(datasets.values()), speaker_pipeline)

    if phone_to_id is not None:

        @sb.utils.data_pipeline.takes("alignment", "sig", "start")
        @sb.utils.data_pipeline.provides("phones")
        def phone_pipeline(alignment, sig, start):
            first = start // codec.hop_length
            num = math.ceil(sig.shape[0] / codec.hop_length)
            frames = phone_targets(
                alignment, phone_to_id, num_frames=first + num, frame_rate=frame_rate
            )
            return frames[first: first + num]

        sb.dataio.dataset.add_dynamic_item(list(datasets.values()), phone_pipeline)
        keys.append("phones")

    if hparams.get("teacher") is not None and hparams.get("teacher_cache_folder"):
        cache = TeacherCache(hparams["teacher_cache_folder"], fingerprint=hparams["teacher"])

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
            first = start // codec.hop_length
            return feats[first: first + math.ceil(sig.shape[0] / codec.hop_length)]

        sb.dataio.dataset.add_dynamic_item(list(datasets.values()), teacher_pipeline)
        keys.append("teacher_feats")

    for dataset in datasets.values():
        dataset.set_output_keys(keys)
    return datasets, label_encoder


def fill_teacher_cache(hparams, datasets, device):
    """Computes, on ``device``, the teacher features of every utterance the cache lacks.

    Runs once in the main process before training, so that the data loader workers only
    read the cache (a teacher on a GPU cannot run in forked workers).
    """
    teacher = hparams["teacher"].to(device)
    cache = TeacherCache(hparams["teacher_cache_folder"], fingerprint=teacher)
    for split, dataset in datasets.items():
        with dataset.output_keys_as(["id", "audio"]):
            missing = [i for i, utt_id in enumerate(dataset.data_ids) if cache.get(utt_id) is None]
            for index in tqdm(missing, desc=f"teacher features ({split})", disable=not missing):
                item = dataset[index]
                cached_features(
                    teacher, [item["id"]], item["audio"].unsqueeze(0).to(device), cache=cache
                )
