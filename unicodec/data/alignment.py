"""Phone alignments: from synthesiser phoneme events to segments.

An alignment is a list of ``[start_s, end_s, phone]`` segments that tile an utterance
from 0 to its duration; pauses are labelled ``SILENCE``. Phone names are IPA without
stress marks (stress is prosody, carried by the paralinguistic tokens, not a phone).

Example
-------
>>> segments = phone_segments([(100, "h"), (300, "ˈɛ")], num_samples=500, sample_rate=1000)
>>> segments
[[0.0, 0.1, 'sil'], [0.1, 0.3, 'h'], [0.3, 0.5, 'ɛ']]

Frame-level phone ids (the targets of S) come from
:func:`unicodec.data.phones.phone_targets`.
"""

SILENCE = "sil"
"""Label of pauses and of the stretches before the first and after the last phone."""

STRESS_MARKS = "ˈˌ"
"""IPA primary and secondary stress marks, removed from phone names."""


def normalize_phone(name):
    """Returns the phone label of a synthesiser phoneme name.

    Arguments
    ---------
    name : str
        IPA phoneme name, possibly with stress marks; empty for a pause.

    Returns
    -------
    str
        The name without stress marks and surrounding spaces, or ``SILENCE``.

    Example
    -------
    >>> normalize_phone("ˈəʊ"), normalize_phone("")
    ('əʊ', 'sil')
    """
    phone = "".join(char for char in name if char not in STRESS_MARKS).strip()
    return phone if phone else SILENCE


def phone_segments(events, num_samples, sample_rate):
    """Turns phoneme start events into segments that tile the whole utterance.

    Each phone lasts until the next event starts; the last one lasts until the end. A
    stretch before the first event becomes silence, consecutive silences are merged and
    zero-length segments are dropped.

    Arguments
    ---------
    events : iterable
        ``(start_sample, name)`` pairs or objects with ``sample`` and ``phone``
        attributes (e.g. ``espeak.PhonemeEvent``), in any order.
    num_samples : int
        Length of the utterance in samples.
    sample_rate : int
        Sample rate the event positions refer to.

    Returns
    -------
    list
        ``[start_s, end_s, phone]`` segments in time order; the first starts at 0.0 and
        the last ends at ``num_samples / sample_rate``.

    Example
    -------
    >>> phone_segments([(0, "a"), (5, ""), (5, ""), (8, "")], 10, 10)
    [[0.0, 0.5, 'a'], [0.5, 1.0, 'sil']]
    """
    if num_samples <= 0:
        return []
    starts = []
    for event in events:
        if isinstance(event, (tuple, list)):
            sample, name = event
        else:
            sample, name = event.sample, event.phone
        starts.append((min(max(int(sample), 0), num_samples), normalize_phone(name)))
    starts.sort(key=lambda item: item[0])
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, SILENCE))

    boundaries = []  # [start_sample, end_sample, phone]
    for index, (start, phone) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else num_samples
        if end <= start:
            continue
        if boundaries and boundaries[-1][2] == phone == SILENCE:
            boundaries[-1][1] = end
        else:
            boundaries.append([start, end, phone])
    return [
        [round(start / sample_rate, 5), round(end / sample_rate, 5), phone]
        for start, end, phone in boundaries
    ]
