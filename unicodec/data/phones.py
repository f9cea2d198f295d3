"""Frame-level phone ids from time alignments: the phone targets of S.

:func:`phone_targets` turns one ``[start_s, end_s, phone]`` alignment (the synthetic
corpus writes them, :mod:`unicodec.data.alignment`) into ids per token frame;
:class:`PhoneTargets` does it for a batch.

Authors
 * UniCodec authors 2026
"""

import torch


def phone_targets(alignment, phone_to_id, num_frames, frame_rate=50.0, pad_id=-100):
    """Frame-level phone ids from a time alignment.

    Frame ``t`` covers ``[t, t + 1) / frame_rate`` seconds and takes the phone whose
    interval holds the frame's centre; frames no interval covers get ``pad_id``.

    Arguments
    ---------
    alignment : list
        ``[start_s, end_s, phone]`` entries (seconds, end exclusive).
    phone_to_id : dict
        Phone symbol -> id. A phone missing from it raises KeyError.
    num_frames : int
        Number of output frames.
    frame_rate : float
        Frames per second (50 for S tokens at 16 kHz with a hop of 320).
    pad_id : int
        Id of uncovered frames (-100 is ignored by ``torch.nn.functional.cross_entropy``).

    Returns
    -------
    torch.Tensor
        ``[num_frames]`` long.

    Example
    -------
    >>> phone_targets([[0.0, 0.06, "h"], [0.06, 0.1, "i"]], {"h": 1, "i": 2}, 6)
    tensor([   1,    1,    1,    2,    2, -100])
    """
    targets = torch.full((int(num_frames),), int(pad_id), dtype=torch.long)
    centres = (torch.arange(int(num_frames), dtype=torch.float64) + 0.5) / frame_rate
    for start, end, phone in alignment:
        covered = (centres >= float(start)) & (centres < float(end))
        targets[covered] = phone_to_id[phone]
    return targets


class PhoneTargets:
    """Batches of frame-level phone ids from alignments (see :func:`phone_targets`).

    Arguments
    ---------
    phone_to_id : dict
        Phone symbol -> id.
    frame_rate : float
        Frames per second.
    pad_id : int
        Id of uncovered and padding frames.

    Example
    -------
    >>> targets = PhoneTargets({"a": 0, "b": 1}, frame_rate=50.0)
    >>> targets([[[0.0, 0.04, "a"]], [[0.0, 0.02, "b"], [0.02, 0.06, "a"]]], [2, 3])
    tensor([[   0,    0, -100],
            [   1,    0,    0]])
    """

    def __init__(self, phone_to_id, frame_rate=50.0, pad_id=-100):
        self.phone_to_id = dict(phone_to_id)
        self.frame_rate = frame_rate
        self.pad_id = pad_id

    def __call__(self, alignments, num_frames):
        """``[B, max(num_frames)]`` long phone ids for a list of alignments."""
        num_frames = [int(n) for n in num_frames]
        out = torch.full((len(alignments), max(num_frames)), self.pad_id, dtype=torch.long)
        for i, (alignment, frames) in enumerate(zip(alignments, num_frames)):
            out[i, :frames] = phone_targets(
                alignment, self.phone_to_id, frames, self.frame_rate, self.pad_id
            )
        return out
