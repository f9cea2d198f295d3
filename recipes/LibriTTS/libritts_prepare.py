"""Data preparation for LibriTTS, LibriTTS-R and the synthetic corpus of ``unicodec.data``.

All three share one layout::

    <data_folder>/<subset>/<speaker>/<chapter>/<utt_id>.wav
    <data_folder>/<subset>/<speaker>/<chapter>/<utt_id>.normalized.txt
    <data_folder>/<subset>/<speaker>/<chapter>/<utt_id>.labels.json    (optional)

``prepare_libritts`` writes SpeechBrain JSON manifests (``train.json``, ``valid.json``,
``test.json``) keyed by utterance id. Each entry has:

- ``wav``: absolute path of the audio file (no ``{data_root}`` placeholder, so the
  manifests load without replacements; prepare again after moving the data),
- ``duration``: seconds, from the file header (the audio is not decoded),
- ``spk_id``: the speaker folder,
- ``text``: the normalized transcript,
- ``language``: ``language`` of the labels file, else the ``language`` argument ("en"),
- every other key of ``<utt_id>.labels.json`` when there is one (the synthetic corpus
  gives ``style``, ``gender``, ``accent``, ``voice``, ``speaker_settings``,
  ``voice_settings`` and ``alignment``, a list of ``[start_s, end_s, phone]``).

Entries without a transcript, with unreadable or empty audio or with an unreadable labels
file are skipped with a warning that names the file, and counted; entries outside
``[min_duration, max_duration]`` are counted. The corpus is only read, never changed.

"""

import argparse
import json
import logging
import os

import soundfile as sf

logger = logging.getLogger(__name__)

OPT_FILE = "opt_libritts_prepare.json"
MANIFESTS = {"train": "train.json", "valid": "valid.json", "test": "test.json"}
AUDIO_EXTENSIONS = (".wav", ".flac")
TRANSCRIPT_SUFFIX = ".normalized.txt"
LABELS_SUFFIX = ".labels.json"
CORE_FIELDS = ("wav", "duration", "spk_id", "text", "language")
PREPARE_VERSION = 1

# Reasons an entry is left out, with their wording in the summary.
SKIP_REASONS = {
    "missing_transcript": "missing or empty transcript",
    "unreadable_audio": "unreadable audio",
    "empty_audio": "empty audio",
    "bad_labels": "unreadable labels file",
    "duplicate_id": "duplicate utterance id",
    "too_short": "shorter than min_duration",
    "too_long": "longer than max_duration",
}


def prepare_libritts(
    data_folder,
    save_folder,
    train_subsets,
    valid_subsets,
    test_subsets,
    min_duration=1.0,
    max_duration=30.0,
    skip_prep=False,
    language="en",
):
    """Writes ``train.json``, ``valid.json`` and ``test.json`` for LibriTTS-style data.

    Arguments
    ---------
    data_folder : str
        Folder holding the subsets (e.g. ``.../LibriTTS`` with ``train-clean-100``).
    save_folder : str
        Where the manifests (and the options file that makes reruns skip) go.
    train_subsets, valid_subsets, test_subsets : list of str
        Subset folders of each split (a single string or None are accepted too).
    min_duration, max_duration : float
        Utterances outside this range, in seconds, are left out (``None``: no bound).
    skip_prep : bool
        If True, do nothing.
    language : str
        Language of entries whose labels file does not give one.

    Returns
    -------
    dict or None
        For each split: ``utterances``, ``hours``, ``speakers`` and ``skipped`` (reason
        to count); None when ``skip_prep`` is True. A rerun with the same options returns
        the summary of the run that wrote the manifests.

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` or one of the subsets does not exist.

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp()
    >>> for subset in ("train-clean-100", "dev-clean", "test-clean"):
    ...     folder = os.path.join(root, subset, "19", "198")
    ...     os.makedirs(folder)
    ...     sf.write(os.path.join(folder, "19_198_000000_000000.wav"),
    ...              np.zeros(48000, dtype="float32"), 24000)
    ...     with open(os.path.join(folder, "19_198_000000_000000.normalized.txt"), "w") as f:
    ...         _ = f.write("Hello there.")
    >>> summary = prepare_libritts(root, os.path.join(root, "manifests"),
    ...                            ["train-clean-100"], ["dev-clean"], ["test-clean"])
    >>> summary["train"]["utterances"], summary["train"]["hours"] > 0
    (1, True)
    >>> import json
    >>> entry = json.load(open(os.path.join(root, "manifests", "train.json")))
    >>> sorted(entry["19_198_000000_000000"])
    ['duration', 'language', 'spk_id', 'text', 'wav']
    """
    if skip_prep:
        logger.info("Skipping LibriTTS preparation (skip_prep=True)")
        return None
    splits = {
        "train": _as_list(train_subsets),
        "valid": _as_list(valid_subsets),
        "test": _as_list(test_subsets),
    }
    data_folder = os.path.abspath(data_folder)
    check_subsets(data_folder, [subset for subsets in splits.values() for subset in subsets])

    options = {
        "data_folder": data_folder,
        "train_subsets": splits["train"],
        "valid_subsets": splits["valid"],
        "test_subsets": splits["test"],
        "min_duration": min_duration,
        "max_duration": max_duration,
        "language": language,
        "version": PREPARE_VERSION,
    }
    previous = load_previous_run(save_folder, options)
    if previous is not None:
        logger.info("Manifests in %s already prepared with the same options, skipping", save_folder)
        return previous

    os.makedirs(save_folder, exist_ok=True)
    summary = {}
    seen = set()
    for split, subsets in splits.items():
        entries, skipped = collect_entries(
            data_folder, subsets, min_duration, max_duration, language, seen
        )
        write_manifest(entries, os.path.join(save_folder, MANIFESTS[split]))
        summary[split] = {
            "utterances": len(entries),
            "hours": round(sum(e["duration"] for e in entries.values()) / 3600.0, 4),
            "speakers": len({e["spk_id"] for e in entries.values()}),
            "skipped": skipped,
        }
    _write_json({"options": options, "summary": summary}, os.path.join(save_folder, OPT_FILE))
    log_summary(summary)
    return summary


def prepare_from_hparams(hparams):
    """:func:`prepare_libritts` with the recipe's keys (``data_folder``, the subsets,
    the duration bounds, ``skip_prep``), writing into ``output_folder``."""
    return prepare_libritts(
        data_folder=hparams["data_folder"],
        save_folder=hparams["output_folder"],
        train_subsets=hparams["train_subsets"],
        valid_subsets=hparams["valid_subsets"],
        test_subsets=hparams["test_subsets"],
        min_duration=hparams["min_duration"],
        max_duration=hparams["max_duration"],
        skip_prep=hparams["skip_prep"],
    )


def _as_list(subsets):
    if subsets is None:
        return []
    if isinstance(subsets, str):
        return [subsets]
    return list(subsets)


def check_subsets(data_folder, subsets):
    """Raises a clear error when the data folder or a subset folder is missing.

    Arguments
    ---------
    data_folder : str
        The dataset folder.
    subsets : list of str
        Subset folders that must exist inside it.
    """
    if not os.path.isdir(data_folder):
        raise FileNotFoundError(
            f"LibriTTS data folder not found: {data_folder} (download LibriTTS or "
            "LibriTTS-R there, or generate the synthetic corpus with "
            "`python -m unicodec.data.corpus --output <folder>`)"
        )
    missing = [s for s in subsets if not os.path.isdir(os.path.join(data_folder, s))]
    if missing:
        present = sorted(
            name for name in os.listdir(data_folder)
            if os.path.isdir(os.path.join(data_folder, name))
        )
        raise FileNotFoundError(
            f"Subsets {missing} not found in {data_folder} (it holds: {present})"
        )


def load_previous_run(save_folder, options):
    """Returns the summary of an earlier run with the same options, else None.

    Arguments
    ---------
    save_folder : str
        Folder of the manifests.
    options : dict
        Options of the current run.

    Returns
    -------
    dict or None
        The stored summary when every manifest exists and the options match.
    """
    paths = [os.path.join(save_folder, name) for name in MANIFESTS.values()]
    opt_path = os.path.join(save_folder, OPT_FILE)
    if not all(os.path.isfile(path) for path in paths + [opt_path]):
        return None
    try:
        with open(opt_path, encoding="utf-8") as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return None
    if stored.get("options") != json.loads(json.dumps(options)):
        return None
    return stored.get("summary")


def list_audio_files(subset_folder):
    """All audio files under a subset folder, sorted.

    Arguments
    ---------
    subset_folder : str

    Returns
    -------
    list of str
    """
    found = []
    for root, dirs, files in os.walk(subset_folder):
        dirs.sort()
        found.extend(
            os.path.join(root, name) for name in sorted(files) if name.endswith(AUDIO_EXTENSIONS)
        )
    return found


def read_entry(audio_path, subset_folder, language):
    """Reads the transcript, header and labels of one utterance.

    Arguments
    ---------
    audio_path : str
        The audio file.
    subset_folder : str
        Its subset folder (the speaker folder is the first level below it).
    language : str
        Default language.

    Returns
    -------
    tuple
        ``(utt_id, entry, None)`` or ``(utt_id, None, (reason, message))``.
    """
    folder, name = os.path.split(audio_path)
    utt_id = os.path.splitext(name)[0]
    transcript_path = os.path.join(folder, utt_id + TRANSCRIPT_SUFFIX)
    if not os.path.isfile(transcript_path):
        return utt_id, None, ("missing_transcript", f"no transcript {transcript_path}")
    with open(transcript_path, encoding="utf-8") as f:
        text = f.read().strip()
    if not text:
        return utt_id, None, ("missing_transcript", f"empty transcript {transcript_path}")
    try:
        info = sf.info(audio_path)
    except (RuntimeError, sf.SoundFileError) as err:
        return utt_id, None, ("unreadable_audio", f"unreadable audio ({err})")
    if info.frames <= 0 or info.samplerate <= 0:
        return utt_id, None, ("empty_audio", "empty audio (0 samples)")

    labels = {}
    labels_path = os.path.join(folder, utt_id + LABELS_SUFFIX)
    if os.path.isfile(labels_path):
        try:
            with open(labels_path, encoding="utf-8") as f:
                labels = json.load(f)
            if not isinstance(labels, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            return utt_id, None, ("bad_labels", f"unreadable labels {labels_path} ({err})")

    relative = os.path.relpath(audio_path, subset_folder).split(os.sep)
    spk_id = relative[0] if len(relative) >= 3 else utt_id.split("_")[0]
    entry = {
        "wav": os.path.abspath(audio_path),
        "duration": info.frames / info.samplerate,
        "spk_id": spk_id,
        "text": text,
        "language": labels.get("language", language),
    }
    for key, value in labels.items():
        if key not in CORE_FIELDS and key != "duration":
            entry[key] = value
    return utt_id, entry, None


def collect_entries(data_folder, subsets, min_duration, max_duration, language, seen=None):
    """Builds the manifest entries of one split.

    Arguments
    ---------
    data_folder : str
    subsets : list of str
    min_duration, max_duration : float or None
    language : str
        Default language.
    seen : set, optional
        Utterance ids already taken by other splits (updated in place).

    Returns
    -------
    tuple
        ``(entries, skipped)``: utterance id to entry, and reason to count.
    """
    seen = set() if seen is None else seen
    entries = {}
    skipped = {reason: 0 for reason in SKIP_REASONS}
    for subset in subsets:
        subset_folder = os.path.join(data_folder, subset)
        for audio_path in list_audio_files(subset_folder):
            utt_id, entry, problem = read_entry(audio_path, subset_folder, language)
            if problem is None and utt_id in seen:
                problem = ("duplicate_id", f"utterance id {utt_id} already used")
            if problem is not None:
                reason, message = problem
                skipped[reason] += 1
                logger.warning("Skipping %s: %s", audio_path, message)
                continue
            if min_duration is not None and entry["duration"] < min_duration:
                skipped["too_short"] += 1
                logger.debug(
                    "Leaving out %s: %.2f s < %s s", audio_path, entry["duration"], min_duration
                )
                continue
            if max_duration is not None and entry["duration"] > max_duration:
                skipped["too_long"] += 1
                logger.debug(
                    "Leaving out %s: %.2f s > %s s", audio_path, entry["duration"], max_duration
                )
                continue
            seen.add(utt_id)
            entries[utt_id] = entry
    return entries, skipped


def _write_json(data, path):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


def write_manifest(entries, path):
    """Writes a SpeechBrain JSON manifest (utterance id to fields).

    Arguments
    ---------
    entries : dict
    path : str
    """
    _write_json(entries, path)
    logger.info("Wrote %s (%d utterances)", path, len(entries))


def log_summary(summary):
    """Logs counts and hours per split and the skipped entries by reason.

    Arguments
    ---------
    summary : dict
        As returned by ``prepare_libritts``.
    """
    total_skipped = {reason: 0 for reason in SKIP_REASONS}
    for split, stats in summary.items():
        logger.info(
            "%s: %d utterances, %d speakers, %.3f hours",
            split, stats["utterances"], stats["speakers"], stats["hours"],
        )
        for reason, count in stats["skipped"].items():
            total_skipped[reason] += count
    bad = sum(total_skipped[r] for r in SKIP_REASONS if not r.startswith("too_"))
    filtered = total_skipped["too_short"] + total_skipped["too_long"]
    details = ", ".join(
        f"{count} {SKIP_REASONS[reason]}" for reason, count in total_skipped.items() if count
    )
    if bad:
        logger.warning("Skipped %d bad files, filtered %d by duration (%s)", bad, filtered, details)
    elif filtered:
        logger.info("Filtered %d files by duration (%s)", filtered, details)


def main(argv=None):
    """Command line: ``python libritts_prepare.py --data_folder ... --save_folder ...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--train_subsets", nargs="*", default=["train-clean-100"])
    parser.add_argument("--valid_subsets", nargs="*", default=["dev-clean"])
    parser.add_argument("--test_subsets", nargs="*", default=["test-clean"])
    parser.add_argument("--min_duration", type=float, default=1.0)
    parser.add_argument("--max_duration", type=float, default=30.0)
    parser.add_argument("--language", default="en")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return prepare_libritts(
        args.data_folder,
        args.save_folder,
        args.train_subsets,
        args.valid_subsets,
        args.test_subsets,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        language=args.language,
    )


if __name__ == "__main__":
    main()
