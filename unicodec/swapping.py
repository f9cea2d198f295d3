"""Token swapping between utterances: voice conversion (G from another speaker) and
prosody transfer (P from another utterance, aligned in time).

Plain functions on :class:`~unicodec.tokens.Tokens`; the inference interface
(:meth:`~unicodec.inference.UniCodecInterface.convert`) encodes the inputs, calls
:func:`swap_tokens` and decodes.

Example
-------
>>> source = Tokens(torch.zeros(1, 2), torch.zeros(1, 8, 1), torch.zeros(1, 4, 2),
...                 torch.tensor([2560]))
>>> speaker = Tokens(torch.ones(1, 2), torch.ones(1, 4, 1), torch.ones(1, 2, 2),
...                  torch.tensor([1280]))
>>> swapped = swap_tokens(source, speaker=speaker, samples_per_step=640)
>>> swapped.global_tokens.tolist(), swapped.semantic_tokens.shape[1]
([[1.0, 1.0]], 8)
"""

import math

import torch

from unicodec.tokens import Tokens

PROSODY_ALIGNMENTS = ("stretch", "trim")


def align_prosody(paralinguistic, num_frames, target_frames, mode="stretch"):
    """Maps the valid P frames of a prosody reference onto another utterance's P frames.

    Arguments
    ---------
    paralinguistic : torch.Tensor
        ``[T, K]`` P tokens of the reference.
    num_frames : int
        Valid frames of the reference.
    target_frames : int
        Valid P frames of the utterance that receives them.
    mode : str
        ``"stretch"``: the whole contour is resampled in time (nearest frame) to the
        target's length, so its shape spans the whole target. ``"trim"``: frames are
        taken one for one from the start, cut where the target ends; a shorter
        reference has its last frame repeated.

    Returns
    -------
    torch.Tensor
        ``[target_frames, K]``.

    Example
    -------
    >>> p = torch.arange(4).unsqueeze(1)
    >>> align_prosody(p, 4, 8, "stretch").flatten().tolist()
    [0, 0, 1, 1, 2, 2, 3, 3]
    >>> align_prosody(p, 4, 6, "trim").flatten().tolist()
    [0, 1, 2, 3, 3, 3]
    >>> align_prosody(p, 4, 2, "stretch").flatten().tolist()
    [0, 2]
    """
    if mode not in PROSODY_ALIGNMENTS:
        raise ValueError(f"prosody alignment must be one of {PROSODY_ALIGNMENTS}, got {mode!r}")
    target = torch.arange(target_frames, device=paralinguistic.device)
    if mode == "stretch":
        index = torch.div(target * num_frames, target_frames, rounding_mode="floor")
    else:
        index = target.clamp(max=num_frames - 1)
    return paralinguistic[index]


def broadcast_tokens(tokens, batch, name):
    """``tokens`` for a batch of ``batch``: as they are, or a batch of one repeated."""
    if tokens.batch_size == batch:
        return tokens
    if tokens.batch_size == 1:
        return Tokens(
            tokens.global_tokens.expand(batch, -1),
            tokens.semantic_tokens.expand(batch, -1, -1),
            tokens.paralinguistic_tokens.expand(batch, -1, -1),
            tokens.num_samples.expand(batch),
        )
    raise ValueError(
        f"{name} has {tokens.batch_size} utterances; the source has {batch} "
        "(give 1 or as many as the source)"
    )


def voice_of(source_global, speaker_global, keep_level=False):
    """G tokens ``[B, Kg]`` of ``speaker_global``'s voice for ``source_global``'s recording:
    the speaker's, but with ``keep_level`` the last (the speech level token,
    :class:`~unicodec.lobes.speech_level.SpeechLevel`) stays the source's, since how
    loud a recording is belongs to it, not to the voice.

    Example
    -------
    >>> voice_of(torch.tensor([[1, 2, 40]]), torch.tensor([[7, 8, 20]]), keep_level=True)
    tensor([[ 7,  8, 40]])
    """
    if not keep_level:
        return speaker_global
    speaker_global = speaker_global.expand(source_global.shape[0], -1)
    return torch.cat([speaker_global[:, :-1], source_global[:, -1:]], -1)


def swap_tokens(source, speaker=None, prosody=None, prosody_align="stretch",
                samples_per_step=640, keep_level=False):
    """Tokens of ``source`` with G from ``speaker`` and, optionally, P from ``prosody``.

    Arguments
    ---------
    source : Tokens
    speaker, prosody : Tokens, optional
        The batch size of ``source`` or 1 (shared by every source utterance).
    prosody_align : str
        How the prosody reference's P frames are fitted to the source's:
        ``"stretch"`` (resampled in time) or ``"trim"`` (see :func:`align_prosody`).
    samples_per_step : int
        Samples per P frame of the model (``UniCodec.samples_per_step``).
    keep_level : bool
        The last G token is the model's speech level (``UniCodec.speech_level``): it
        stays the source's (:func:`voice_of`).

    Returns
    -------
    Tokens
        S (and P unless ``prosody`` is given) and the length of ``source``.
    """
    batch = source.batch_size
    global_tokens = source.global_tokens
    if speaker is not None:
        if speaker.global_tokens.shape[-1] == 0:
            raise ValueError(
                "this model has no global (G) tokens, so it cannot take the voice of "
                "`speaker`; only `prosody` can be swapped"
            )
        global_tokens = voice_of(
            global_tokens, broadcast_tokens(speaker, batch, "speaker").global_tokens,
            keep_level)
    paralinguistic = source.paralinguistic_tokens
    if prosody is not None:
        ref = broadcast_tokens(prosody, batch, "prosody")
        paralinguistic = ref.paralinguistic_tokens.new_zeros(
            batch, source.paralinguistic_tokens.shape[1], ref.paralinguistic_tokens.shape[2])
        for b in range(batch):
            target = math.ceil(int(source.num_samples[b]) / samples_per_step)
            frames = math.ceil(int(ref.num_samples[b]) / samples_per_step)
            paralinguistic[b, :target] = align_prosody(
                ref.paralinguistic_tokens[b], frames, target, prosody_align)
    return Tokens(global_tokens, source.semantic_tokens, paralinguistic, source.num_samples)
