"""Pitch judged by WORLD's Harvest (a tracker training does not use): gross pitch error,
log-F0 contour correlation, F0 RMSE in cents and voicing agreement of a rebuilt signal
against its original."""

import math
import warnings

import numpy as np

from unicodec.evaluation.judge_registry import JUDGE_SAMPLE_RATE, require, to_judge_audio


def harvest_f0(wav, sample_rate=JUDGE_SAMPLE_RATE, frame_period=10.0, f0_min=60.0,
               f0_max=500.0, median_ms=50.0):
    """F0 every ``frame_period`` ms by WORLD's Harvest (pyworld), an independent tracker.

    UniCodec's training and encoder use YIN (:mod:`unicodec.lobes.pitch_tracker`); its
    pitch is scored with this one. The log-F0 of each voiced run is median-filtered over
    ``median_ms`` (octave blips of one or two frames).

    Returns
    -------
    numpy.ndarray
        F0 in Hz per frame, 0 where unvoiced.
    """
    pyworld = require("pitch")
    x = to_judge_audio(wav, sample_rate).astype(np.float64)
    f0, _ = pyworld.harvest(x, JUDGE_SAMPLE_RATE, f0_floor=f0_min, f0_ceil=f0_max,
                            frame_period=frame_period)
    half = int(round(median_ms / frame_period)) // 2
    voiced = f0 > 0
    if half > 0 and voiced.any():
        log_f0 = np.where(voiced, np.log(np.where(voiced, f0, 1.0)), np.nan)
        padded = np.pad(log_f0, half, constant_values=np.nan)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: unvoiced
            smooth = np.nanmedian(windows, axis=-1)
        f0 = np.where(voiced, np.exp(smooth), 0.0)
    return f0

def audible_frames(wav, sample_rate=JUDGE_SAMPLE_RATE, frame_period=10.0, floor_db=-80.0):
    """Harvest's frames (every ``frame_period`` ms) whose power, over one frame period
    around the frame, is within ``floor_db`` of the loudest frame's.

    Harvest voices any signal, however faint, that continues a voiced run, and never
    digital silence; synthesized speech is digitally silent between words, where a
    codec's output is a faint noise floor. Voicing agreement over the audible frames of
    the original leaves those frames out.

    Example
    -------
    >>> wav = np.zeros(16000)
    >>> wav[:8000] = np.sin(np.arange(8000) * 0.1)
    >>> audible = audible_frames(wav)  # frames at 0, 10, ..., 1000 ms
    >>> len(audible), int(audible.sum())  # those at 0-500 ms (the last half audible)
    (101, 51)
    """
    x = np.asarray(to_judge_audio(wav, sample_rate), dtype=np.float64)
    hop = int(round(JUDGE_SAMPLE_RATE * frame_period / 1000.0))
    count = len(x) // hop + 1  # Harvest's frames, frame i centred on sample i * hop
    power = np.convolve(x ** 2, np.full(hop, 1.0 / hop), mode="same")
    power = np.pad(power, (0, hop))[np.arange(count) * hop]
    if power.max() <= 0:
        return np.zeros(count, dtype=bool)
    return 10 * np.log10(np.maximum(power, 1e-30) / power.max()) > floor_db

def pitch_agreement(rebuilt, original, sample_rate=JUDGE_SAMPLE_RATE, original_f0=None):
    """Counts of how well ``rebuilt``'s pitch follows ``original``'s (Harvest on both).

    ``original_f0`` (:func:`harvest_f0` of the original) saves tracking it again when
    several versions of one original are scored.

    Returns
    -------
    dict
        ``pitch_frames`` (frames of the original), ``pitch_voicing_agree`` (frames whose
        voicing agrees), ``pitch_both_voiced``, ``pitch_gross_errors`` (voiced in both and
        more than 20% off), ``pitch_sq_cents`` (sum of squared errors in cents over frames
        voiced in both), ``pitch_contour_corr`` (correlation of log-F0 over frames
        voiced in both; NaN under 10 such frames), and ``pitch_audible_frames`` and
        ``pitch_audible_voicing_agree``: the same voicing counts over the original's
        :func:`audible_frames`. Sum the counts over utterances for a corpus figure
        (:func:`pitch_summary`).
    """
    ref = harvest_f0(original, sample_rate) if original_f0 is None else original_f0
    return f0_agreement(harvest_f0(rebuilt, sample_rate), ref,
                        audible_frames(original, sample_rate))

def f0_agreement(est, ref, audible=None):
    """:func:`pitch_agreement`'s counts of two F0 tracks (Hz, 0 where unvoiced, same
    frame rate; cut to the shorter); the audible counts with ``audible`` (bool per frame
    of the original, :func:`audible_frames`, as many frames as ``ref``).

    Example
    -------
    >>> ref = np.array([0, 100, 100, 100, 0.0])
    >>> counts = f0_agreement(np.array([0, 100, 210, 0, 0.0]), ref)
    >>> counts["pitch_voicing_agree"], counts["pitch_both_voiced"], counts["pitch_gross_errors"]
    (4, 2, 1)
    >>> audible = np.array([True, True, True, True, False])
    >>> counts = f0_agreement(np.array([0, 100, 100, 100, 90.0]), ref, audible)
    >>> counts["pitch_voicing_agree"], counts["pitch_audible_voicing_agree"]
    (4, 4)
    """
    est, ref = np.asarray(est, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    n = min(len(ref), len(est))
    ref, est = ref[:n], est[:n]
    both = (ref > 0) & (est > 0)
    cents = 1200 * np.log2(est[both] / ref[both]) if both.any() else np.zeros(0)
    corr = float("nan")
    if both.sum() >= 10:
        a, b = np.log(ref[both]), np.log(est[both])
        if a.std() > 0 and b.std() > 0:
            corr = float(np.corrcoef(a, b)[0, 1])
    counts = {
        "pitch_frames": int(n),
        "pitch_voicing_agree": int(((ref > 0) == (est > 0)).sum()),
        "pitch_both_voiced": int(both.sum()),
        "pitch_gross_errors": int((np.abs(est[both] / ref[both] - 1) > 0.2).sum()),
        "pitch_sq_cents": float((cents ** 2).sum()),
        "pitch_contour_corr": corr,
    }
    if audible is not None:
        audible = np.asarray(audible, dtype=bool)[:n]
        counts["pitch_audible_frames"] = int(audible.sum())
        counts["pitch_audible_voicing_agree"] = int(
            (((ref > 0) == (est > 0)) & audible).sum())
    return counts

def pitch_summary(counts):
    """Corpus figures from a list of :func:`pitch_agreement` dicts.

    Returns
    -------
    dict
        ``gross_pitch_error`` (share of frames voiced in both), ``f0_rmse_cents``,
        ``voicing_agreement``, ``f0_contour_corr`` (mean over utterances), and
        ``voicing_agreement_audible`` when every dict has the audible counts.

    Example
    -------
    >>> pitch_summary([{"pitch_frames": 10, "pitch_voicing_agree": 9, "pitch_both_voiced": 8,
    ...   "pitch_gross_errors": 2, "pitch_sq_cents": 800.0, "pitch_contour_corr": 0.5}])
    {'gross_pitch_error': 0.25, 'f0_rmse_cents': 10.0, 'voicing_agreement': 0.9, 'f0_contour_corr': 0.5}
    """
    keys = ("pitch_frames", "pitch_voicing_agree", "pitch_both_voiced", "pitch_gross_errors",
            "pitch_sq_cents")
    total = {k: sum(c[k] for c in counts) for k in keys}
    both = max(total["pitch_both_voiced"], 1)
    corrs = [c["pitch_contour_corr"] for c in counts if not math.isnan(c["pitch_contour_corr"])]
    summary = {
        "gross_pitch_error": total["pitch_gross_errors"] / both,
        "f0_rmse_cents": math.sqrt(total["pitch_sq_cents"] / both),
        "voicing_agreement": total["pitch_voicing_agree"] / max(total["pitch_frames"], 1),
        "f0_contour_corr": float(np.mean(corrs)) if corrs else float("nan"),
    }
    if all("pitch_audible_frames" in c for c in counts):
        audible = sum(c["pitch_audible_frames"] for c in counts)
        agree = sum(c["pitch_audible_voicing_agree"] for c in counts)
        summary["voicing_agreement_audible"] = agree / max(audible, 1)
    return summary
