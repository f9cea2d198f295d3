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

def periodic_frames(wav, sample_rate=JUDGE_SAMPLE_RATE, frame_period=10.0, f0_min=60.0,
                    f0_max=500.0):
    """A second opinion on which of Harvest's frames are voiced: WORLD's DIO (refined by
    StoneMask), the package's other tracker.

    Harvest voices every frame it can bridge, and it bridges short voiceless consonants
    between voiced runs: a fricative 45 dB below the vowels around it gets a contour
    gliding from 100 to 250 Hz that no periodicity in the signal supports. DIO voices
    fewer frames (about 80% of Harvest's on synthesized speech, 60% on real speech). The
    frames both voice are the original's unambiguously periodic ones.

    Returns
    -------
    numpy.ndarray
        bool per frame (Harvest's frames: every ``frame_period`` ms).
    """
    pyworld = require("pitch")
    x = to_judge_audio(wav, sample_rate).astype(np.float64)
    f0, times = pyworld.dio(x, JUDGE_SAMPLE_RATE, f0_floor=f0_min, f0_ceil=f0_max,
                            frame_period=frame_period)
    return pyworld.stonemask(x, f0, times, JUDGE_SAMPLE_RATE) > 0


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

def pitch_agreement(rebuilt, original, sample_rate=JUDGE_SAMPLE_RATE, original_f0=None,
                    original_periodic=None):
    """Counts of how well ``rebuilt``'s pitch follows ``original``'s (Harvest on both).

    ``original_f0`` (:func:`harvest_f0` of the original) and ``original_periodic``
    (:func:`periodic_frames` of it) save tracking them again when several versions of one
    original are scored.

    Returns
    -------
    dict
        ``pitch_frames`` (frames of the original), ``pitch_voicing_agree`` (frames whose
        voicing agrees), ``pitch_both_voiced``, ``pitch_gross_errors`` (voiced in both and
        more than 20% off), ``pitch_sq_cents`` (sum of squared errors in cents over frames
        voiced in both), ``pitch_contour_corr`` (correlation of log-F0 over frames
        voiced in both; NaN under 10 such frames), and ``pitch_audible_frames`` and
        ``pitch_audible_voicing_agree``: the same voicing counts over the original's
        :func:`audible_frames`; and :func:`f0_agreement`'s counts on the frames where DIO
        (:func:`periodic_frames`) agrees with Harvest on the original. Sum the counts over
        utterances for a corpus figure (:func:`pitch_summary`).
    """
    ref = harvest_f0(original, sample_rate) if original_f0 is None else original_f0
    if original_periodic is None:
        original_periodic = periodic_frames(original, sample_rate)
    return f0_agreement(harvest_f0(rebuilt, sample_rate), ref,
                        audible_frames(original, sample_rate), original_periodic)

def f0_agreement(est, ref, audible=None, periodic=None):
    """:func:`pitch_agreement`'s counts of two F0 tracks (Hz, 0 where unvoiced, same
    frame rate; cut to the shorter); the audible counts with ``audible`` (bool per frame
    of the original, :func:`audible_frames`, as many frames as ``ref``); with ``periodic``
    (a second tracker's voicing of the original, :func:`periodic_frames`), the counts on
    the frames where it agrees with ``ref``'s voicing: ``pitch_certain_frames``,
    ``pitch_certain_voicing_agree`` and ``pitch_periodic_contour_corr`` (the contour
    correlation over the frames voiced in both that it voices too).

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
    >>> periodic = np.array([False, True, True, False, False])  # frame 3: Harvest alone
    >>> counts = f0_agreement(np.array([0, 100, 100, 0, 0.0]), ref, periodic=periodic)
    >>> counts["pitch_voicing_agree"], counts["pitch_certain_frames"], counts["pitch_certain_voicing_agree"]
    (4, 4, 4)
    """
    est, ref = np.asarray(est, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    n = min(len(ref), len(est))
    ref, est = ref[:n], est[:n]
    both = (ref > 0) & (est > 0)
    cents = 1200 * np.log2(est[both] / ref[both]) if both.any() else np.zeros(0)
    corr = _log_correlation(ref, est, both)
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
    if periodic is not None:
        periodic = np.asarray(periodic, dtype=bool)[:n]
        periodic = np.pad(periodic, (0, n - len(periodic)))
        certain = periodic == (ref > 0)
        counts["pitch_certain_frames"] = int(certain.sum())
        counts["pitch_certain_voicing_agree"] = int((((ref > 0) == (est > 0)) & certain).sum())
        counts["pitch_periodic_contour_corr"] = _log_correlation(ref, est, both & periodic)
    return counts


def _log_correlation(ref, est, frames):
    """Correlation of the log-F0 of two tracks over ``frames`` (NaN under 10 frames)."""
    if frames.sum() < 10:
        return float("nan")
    a, b = np.log(ref[frames]), np.log(est[frames])
    if a.std() > 0 and b.std() > 0:
        return float(np.corrcoef(a, b)[0, 1])
    return float("nan")

def pitch_summary(counts):
    """Corpus figures from a list of :func:`pitch_agreement` dicts.

    Returns
    -------
    dict
        ``gross_pitch_error`` (share of frames voiced in both), ``f0_rmse_cents``,
        ``voicing_agreement``, ``f0_contour_corr`` (mean over utterances),
        ``voicing_agreement_audible`` when every dict has the audible counts, and
        ``voicing_agreement_certain`` and ``f0_contour_corr_periodic`` when every dict has
        the counts on the frames a second tracker agrees on (:func:`f0_agreement`).

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
    if all("pitch_certain_frames" in c for c in counts):
        certain = sum(c["pitch_certain_frames"] for c in counts)
        agree = sum(c["pitch_certain_voicing_agree"] for c in counts)
        summary["voicing_agreement_certain"] = agree / max(certain, 1)
        corrs = [c["pitch_periodic_contour_corr"] for c in counts
                 if not math.isnan(c["pitch_periodic_contour_corr"])]
        summary["f0_contour_corr_periodic"] = float(np.mean(corrs)) if corrs else float("nan")
    return summary
