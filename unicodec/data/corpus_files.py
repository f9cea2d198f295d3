"""The files of a generated corpus (LibriTTS layout): one utterance's wav, transcript
and labels, the phone inventory, and the corpus's JSON records.

See :mod:`unicodec.data.corpus` for the layout and how the corpus is generated.
"""

import json
import os
import shutil
from dataclasses import dataclass, field

import soundfile as sf
import torch

from unicodec.data.alignment import SILENCE

CORPUS_FILE = "corpus.json"
SPEAKERS_FILE = "speakers.json"
PHONES_FILE = "phones.json"
LABELS_SUFFIX = ".labels.json"
TRANSCRIPT_SUFFIX = ".normalized.txt"


@dataclass
class Utterance:
    """One synthesised utterance, ready to be written.

    Arguments
    ---------
    audio : torch.Tensor
        Waveform ``[T]`` at the corpus sample rate.
    text : str
        What was said.
    labels : dict
        Content of ``<id>.labels.json``.
    """

    audio: torch.Tensor
    text: str
    labels: dict = field(default_factory=dict)

    @property
    def duration(self):
        """Duration in seconds."""
        return self.labels["duration"]


def write_utterance(folder, utt_id, utterance):
    """Writes ``<id>.wav`` (16-bit PCM), ``<id>.normalized.txt`` and ``<id>.labels.json``.

    Arguments
    ---------
    folder : str
        Chapter folder (created if needed).
    utt_id : str
        Utterance id.
    utterance : Utterance
        What to write.

    Returns
    -------
    str
        Path of the written wav file.
    """
    os.makedirs(folder, exist_ok=True)
    wav_path = os.path.join(folder, utt_id + ".wav")
    sample_rate = round(len(utterance.audio) / utterance.duration)
    sf.write(wav_path, utterance.audio.numpy(), sample_rate, subtype="PCM_16")
    with open(os.path.join(folder, utt_id + TRANSCRIPT_SUFFIX), "w", encoding="utf-8") as f:
        f.write(utterance.text + "\n")
    with open(os.path.join(folder, utt_id + LABELS_SUFFIX), "w", encoding="utf-8") as f:
        f.write(format_labels(utterance.labels))
    return wav_path


def format_labels(labels):
    """JSON text of a labels dictionary, one key (and one alignment segment) per line.

    Arguments
    ---------
    labels : dict
        JSON-ready labels.

    Returns
    -------
    str
        Valid JSON, readable in a text editor.

    Example
    -------
    >>> print(format_labels({"style": "sad", "alignment": [[0.0, 0.5, "sil"]]}))
    {
     "style": "sad",
     "alignment": [
      [0.0, 0.5, "sil"]
     ]
    }
    """
    items = []
    for key, value in labels.items():
        if key == "alignment":
            segments = ",\n  ".join(json.dumps(s, ensure_ascii=False) for s in value)
            items.append(f' "{key}": [\n  {segments}\n ]' if value else f' "{key}": []')
        else:
            items.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def build_phone_inventory(phones_by_language):
    """Builds the phone inventory from the phones seen in each language.

    Arguments
    ---------
    phones_by_language : dict
        Language to a collection of phone labels.

    Returns
    -------
    dict
        ``silence``, ``phone_to_id`` (silence is 0, then phones in sorted order) and
        ``languages`` (language to its own phones with the shared ids).

    Example
    -------
    >>> inventory = build_phone_inventory({"en": {"a", "b"}, "fr": {"a", "y"}})
    >>> inventory["phone_to_id"]
    {'sil': 0, 'a': 1, 'b': 2, 'y': 3}
    >>> inventory["languages"]["fr"]
    {'sil': 0, 'a': 1, 'y': 3}
    """
    every = set().union(*phones_by_language.values()) - {SILENCE}
    phone_to_id = {SILENCE: 0}
    for phone in sorted(every):
        phone_to_id[phone] = len(phone_to_id)
    languages = {}
    for language in sorted(phones_by_language):
        own = set(phones_by_language[language]) | {SILENCE}
        languages[language] = {p: i for p, i in phone_to_id.items() if p in own}
    return {"silence": SILENCE, "phone_to_id": phone_to_id, "languages": languages}


def load_phone_inventory(corpus_dir):
    """Reads ``phones.json`` of a generated corpus.

    Arguments
    ---------
    corpus_dir : str
        The corpus folder (or the path of ``phones.json`` itself).

    Returns
    -------
    dict
        See ``build_phone_inventory``.
    """
    path = corpus_dir
    if os.path.isdir(path):
        path = os.path.join(path, PHONES_FILE)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_info(output_dir):
    path = os.path.join(output_dir, CORPUS_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def count_wavs(folder):
    count = 0
    for _, _, files in os.walk(folder):
        count += sum(name.endswith(".wav") for name in files)
    return count


def corpus_is_complete(output_dir, settings):
    """Tells whether ``output_dir`` holds a finished corpus made with ``settings``.

    Arguments
    ---------
    output_dir : str
    settings : CorpusSettings

    Returns
    -------
    bool
        True when ``corpus.json`` says complete with the same settings and every subset
        has the recorded number of wav files.
    """
    info = read_info(output_dir)
    if not info or not info.get("complete") or info.get("settings") != settings.as_dict():
        return False
    for subset, counts in info.get("subsets", {}).items():
        folder = os.path.join(output_dir, subset)
        if count_wavs(folder) != counts.get("utterances"):
            return False
    return True


def prepare_output(output_dir, settings, overwrite, subsets):
    """Makes room for a new corpus (its records and ``subsets`` folders), refusing to
    delete what the generator did not write."""
    info = read_info(output_dir)
    ours = [CORPUS_FILE, SPEAKERS_FILE, PHONES_FILE, *subsets]
    present = [name for name in ours if os.path.exists(os.path.join(output_dir, name))]
    if present:
        if info is None:
            raise FileExistsError(
                f"{output_dir} already holds {present} without a readable {CORPUS_FILE}; "
                "refusing to overwrite it: choose another output folder"
            )
        same = info.get("settings") == settings.as_dict()
        if not same and not overwrite:
            raise FileExistsError(
                f"{output_dir} holds a corpus made with other settings "
                f"({info.get('settings')}); pass overwrite=True (--overwrite) to replace it"
            )
        for name in present:
            path = os.path.join(output_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    os.makedirs(output_dir, exist_ok=True)
