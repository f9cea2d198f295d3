"""Pitch judged by WORLD's Harvest (a tracker training does not use): gross pitch error,
log-F0 contour correlation, F0 RMSE in cents and voicing agreement of a rebuilt signal
against its original."""

import importlib
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
        voiced in both) and ``pitch_contour_corr`` (correlation of log-F0 over frames
        voiced in both; NaN under 10 such frames). Sum the counts over utterances for a
        corpus figure (:func:`pitch_summary`).
    """
    ref = harvest_f0(original, sample_rate) if original_f0 is None else original_f0
    return f0_agreement(harvest_f0(rebuilt, sample_rate), ref)

def f0_agreement(est, ref):
    """:func:`pitch_agreement`'s counts of two F0 tracks (Hz, 0 where unvoiced, same
    frame rate; cut to the shorter).

    Example
    -------
    >>> ref = np.array([0, 100, 100, 100, 0.0])
    >>> counts = f0_agreement(np.array([0, 100, 210, 0, 0.0]), ref)
    >>> counts["pitch_voicing_agree"], counts["pitch_both_voiced"], counts["pitch_gross_errors"]
    (4, 2, 1)
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
    return {
        "pitch_frames": int(n),
        "pitch_voicing_agree": int(((ref > 0) == (est > 0)).sum()),
        "pitch_both_voiced": int(both.sum()),
        "pitch_gross_errors": int((np.abs(est[both] / ref[both] - 1) > 0.2).sum()),
        "pitch_sq_cents": float((cents ** 2).sum()),
        "pitch_contour_corr": corr,
    }

def pitch_summary(counts):
    """Corpus figures from a list of :func:`pitch_agreement` dicts.

    Returns
    -------
    dict
        ``gross_pitch_error`` (share of frames voiced in both), ``f0_rmse_cents``,
        ``voicing_agreement``, ``f0_contour_corr`` (mean over utterances).

    Example
    -------
    >>> pitch_summary([{"pitch_frames": 10, "pitch_voicing_agree": 9, "pitch_both_voiced": 8,
    ...   "pitch_gross_errors": 2, "pitch_sq_cents": 800.0, "pitch_contour_corr": 0.5}])
    {'gross_pitch_error': 0.25, 'f0_rmse_cents': 10.0, 'voicing_agreement': 0.9, 'f0_contour_corr': 0.5}
    """
    total = {k: sum(c[k] for c in counts) for k in counts[0] if k != "pitch_contour_corr"}
    both = max(total["pitch_both_voiced"], 1)
    corrs = [c["pitch_contour_corr"] for c in counts if not math.isnan(c["pitch_contour_corr"])]
    return {
        "gross_pitch_error": total["pitch_gross_errors"] / both,
        "f0_rmse_cents": math.sqrt(total["pitch_sq_cents"] / both),
        "voicing_agreement": total["pitch_voicing_agree"] / max(total["pitch_frames"], 1),
        "f0_contour_corr": float(np.mean(corrs)) if corrs else float("nan"),
    }
