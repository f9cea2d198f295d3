"""The evaluation's sources: a model to evaluate and the utterances to evaluate it on (a
SpeechBrain manifest, a ``manifest.csv`` or an audio folder), with their speakers and
labels."""

import csv
import json
import math
import os
import random

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The clone's root (``unicodec/evaluation/`` is two levels down)."""

DEFAULT_REAL = os.path.join(REPO_ROOT, "..", "shared", "data", "real")

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")


def load_codec(model=None, hparams=None, checkpoint=None, device="cpu"):
    """Loads a UniCodec for evaluation (eval mode, on ``device``).

    Arguments
    ---------
    model : str, optional
        An inference folder of :func:`unicodec.export.export_model`.
    hparams, checkpoint : str, optional
        Instead of ``model``: a model-only YAML (its ``codec`` key) and a ``state_dict``
        file (``checkpoint`` may be omitted for random weights).
    device : str
        Torch device.

    Returns
    -------
    unicodec.lobes.codec.UniCodec
    """
    if model is not None:
        try:
            from unicodec.inference import load_model
        except ImportError:  # the inference interface is optional here
            load_model = None
        if load_model is not None:
            return load_model(model, device=device).codec.eval()
        hparams = os.path.join(model, "hyperparams.yaml")
        checkpoint = os.path.join(model, "codec.ckpt")
    if hparams is None:
        raise ValueError("Give --model, or --hparams (and --checkpoint)")
    from hyperpyyaml import load_hyperpyyaml

    with open(hparams, encoding="utf-8") as f:
        codec = load_hyperpyyaml(f)["codec"]
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        codec.load_state_dict(state, strict=True)
    return codec.to(device).eval()

def _speaker_of(utt_id, path):
    parts = utt_id.replace("-", "_").split("_")
    if len(parts) >= 3:  # LibriTTS 19_198_000000_000000, LibriSpeech 1272-128104-0000
        return parts[0]
    return os.path.basename(os.path.dirname(path))

def _sidecar(path, suffix):
    side = os.path.splitext(path)[0] + suffix
    return side if os.path.isfile(side) else None

def _read_json_manifest(path):
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    items = []
    for utt_id, entry in entries.items():
        item = dict(entry)
        item.update(id=utt_id, path=entry["wav"], spk_id=str(entry.get("spk_id", "")),
                    text=entry.get("text", ""), language=entry.get("language", ""))
        item["subset"] = os.path.basename(os.path.dirname(os.path.dirname(
            os.path.dirname(entry["wav"]))))
        items.append(item)
    return items

def _read_csv_manifest(path):
    root = os.path.dirname(os.path.abspath(path))
    items = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            rel = row["path"]
            items.append({
                "id": os.path.splitext(rel)[0].replace(os.sep, "/"),
                "path": os.path.join(root, rel),
                "spk_id": row.get("speaker", ""),
                "text": row.get("transcript", ""),
                "language": row.get("language", ""),
                "emotion": row.get("emotion") or None,
                "subset": rel.split("/")[0],
            })
    return items

def _read_folder(folder):
    items = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.lower().endswith(AUDIO_EXTENSIONS):
                continue
            path = os.path.join(dirpath, name)
            utt_id = os.path.splitext(name)[0]
            item = {"id": utt_id, "path": path, "spk_id": _speaker_of(utt_id, path),
                    "text": "", "language": "",
                    "subset": os.path.relpath(dirpath, folder).split(os.sep)[0]}
            text = _sidecar(path, ".normalized.txt")
            if text:
                with open(text, encoding="utf-8") as f:
                    item["text"] = f.read().strip()
            labels = _sidecar(path, ".labels.json")
            if labels:
                with open(labels, encoding="utf-8") as f:
                    item.update(json.load(f))
            items.append(item)
    return items

def read_source(path):
    """Utterances of a source: a JSON manifest, a ``manifest.csv`` or a folder.

    Returns
    -------
    list of dict
        Each with ``id``, ``path``, ``spk_id``, ``text``, ``language``, ``subset`` and
        any other labels (``style``, ``emotion``, ``alignment``, ...). Audio is not read.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or holds no audio.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No data source at {path}")
    if os.path.isdir(path):
        csv_path = os.path.join(path, "manifest.csv")
        items = _read_csv_manifest(csv_path) if os.path.isfile(csv_path) else _read_folder(path)
    elif path.endswith(".csv"):
        items = _read_csv_manifest(path)
    else:
        items = _read_json_manifest(path)
    if not items:
        raise FileNotFoundError(f"No audio files found in {path}")
    return items

def source_name(spec):
    """``(name, path)`` of a ``--data`` argument: ``NAME=PATH``, or a path named after its
    file or folder.

    Example
    -------
    >>> source_name("results/embedded/test.json"), source_name("unseen=data/probe")
    (('test', 'results/embedded/test.json'), ('unseen', 'data/probe'))
    """
    name, sep, path = spec.partition("=")
    if sep and name and not os.path.exists(spec):
        return name, path
    return os.path.basename(os.path.normpath(spec)).replace(".json", ""), spec

def write_example_source(folder, num_speakers=3, utts_per_speaker=4, seconds=1.0, seed=0):
    """Writes a tiny folder of speech-like audio (``<speaker>/<speaker>_<n>.wav``) and labels.

    Used by the examples and tests; each speaker has its own pitch and each utterance a
    ``style`` label in ``<id>.labels.json``.

    Returns
    -------
    str
        The folder.
    """
    import soundfile as sf

    gen = torch.Generator().manual_seed(seed)
    sample_rate = 16000
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    for s in range(num_speakers):
        speaker = "abcdefghij"[s]
        for n in range(1, utts_per_speaker + 1):
            f0 = 100 + 40 * s + 15 * torch.sin(2 * math.pi * (1 + n / 3) * t)
            phase = 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
            wav = sum(torch.sin(k * phase) / k for k in range(1, 6)) * 0.15
            wav = wav + 0.01 * torch.randn(wav.shape, generator=gen)
            utt_id = f"{speaker}_{n}"
            os.makedirs(os.path.join(folder, speaker), exist_ok=True)
            path = os.path.join(folder, speaker, f"{utt_id}.wav")
            sf.write(path, wav.numpy(), sample_rate)
            with open(path.replace(".wav", ".labels.json"), "w") as f:
                json.dump({"style": "calm" if n % 2 else "lively"}, f)
    return folder

def select(items, limit, seed=0):
    """A seeded subset of at most ``limit`` items, in their original order."""
    if limit is None or len(items) <= limit:
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]
