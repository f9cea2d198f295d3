"""Conversions between relative lengths, sample counts, frame counts and padding masks.

SpeechBrain passes relative lengths in (0, 1]; the codec works on sample counts and
frame counts. Every part of UniCodec converts through these few functions, so that a
padded batch and each file alone agree on which frames are valid.

Authors
 * UniCodec authors 2026
"""

import torch
from speechbrain.dataio.dataio import length_to_mask


def relative_to_count(lens, max_len):
    """Turns relative lengths into counts.

    Arguments
    ---------
    lens : torch.Tensor
        ``[B]`` relative lengths in (0, 1].
    max_len : int
        The padded length the relative lengths refer to.

    Returns
    -------
    torch.Tensor
        ``[B]`` long counts.

    Example
    -------
    >>> relative_to_count(torch.tensor([1.0, 0.5]), 320)
    tensor([320, 160])
    """
    return torch.round(lens.double() * max_len).long().clamp(min=0, max=max_len)


def count_to_relative(counts, max_len):
    """Turns counts into relative lengths (float32, in (0, 1]).

    Example
    -------
    >>> count_to_relative(torch.tensor([320, 160]), 320)
    tensor([1.0000, 0.5000])
    """
    return counts.float() / max(int(max_len), 1)


def frames_for_samples(num_samples, hop_length):
    """Number of frames of a hop that cover ``num_samples`` (the last one partly).

    Example
    -------
    >>> frames_for_samples(torch.tensor([320, 321, 1]), 320)
    tensor([1, 2, 1])
    """
    return torch.div(num_samples + hop_length - 1, hop_length, rounding_mode="floor")


def frame_mask(counts, max_len):
    """Boolean mask ``[B, max_len]``, True on the first ``counts[b]`` frames.

    Example
    -------
    >>> frame_mask(torch.tensor([2, 3]), 3)
    tensor([[ True,  True, False],
            [ True,  True,  True]])
    """
    return length_to_mask(counts, max_len=max_len, dtype=torch.bool)


def relative_frame_mask(lengths, num_frames, device=None):
    """Mask ``[B, num_frames]`` of the valid frames given relative lengths.

    SpeechBrain's convention: frame ``t`` is valid when ``t < lengths * num_frames``.
    ``lengths=None`` means every frame is valid (a ``[1, num_frames]`` mask).

    Example
    -------
    >>> relative_frame_mask(torch.tensor([1.0, 0.5]), 4)
    tensor([[ True,  True,  True,  True],
            [ True,  True, False, False]])
    """
    frames = torch.arange(num_frames, device=device)
    if lengths is None:
        return torch.ones(1, num_frames, dtype=torch.bool, device=device)
    return frames[None, :] < lengths.to(device).float()[:, None] * num_frames - 1e-6
