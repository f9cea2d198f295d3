"""The token layout of UniCodec: global, semantic and paralinguistic streams.

Authors
 * UniCodec authors 2026
"""

from dataclasses import dataclass, fields

import torch


@dataclass
class Tokens:
    """Tokens of a batch of utterances, in the one layout every part of UniCodec uses.

    Arguments
    ---------
    global_tokens : torch.Tensor
        ``[B, Kg]`` long, one set of tokens per utterance (timbre, style, emotion).
    semantic_tokens : torch.Tensor
        ``[B, Ts, Ks]`` long, local tokens at the semantic frame rate (the words).
    paralinguistic_tokens : torch.Tensor
        ``[B, Tp, Kp]`` long, local tokens at the coarser paralinguistic frame rate
        (prosody and detail). ``Kp`` may be smaller than the model's number of residual
        codebooks: the missing ones are read as absent (a lower bitrate).
    num_samples : torch.Tensor
        ``[B]`` long, the length in samples of each encoded waveform. Frame counts
        (and so the valid part of each local stream) follow from it.

    Example
    -------
    >>> tokens = Tokens(
    ...     global_tokens=torch.zeros(2, 4, dtype=torch.long),
    ...     semantic_tokens=torch.zeros(2, 10, 1, dtype=torch.long),
    ...     paralinguistic_tokens=torch.zeros(2, 5, 2, dtype=torch.long),
    ...     num_samples=torch.tensor([3200, 1600]),
    ... )
    >>> tokens.batch_size
    2
    >>> tokens[1].semantic_tokens.shape
    torch.Size([1, 10, 1])
    """

    global_tokens: torch.Tensor
    semantic_tokens: torch.Tensor
    paralinguistic_tokens: torch.Tensor
    num_samples: torch.Tensor

    @property
    def batch_size(self):
        """Number of utterances."""
        return self.global_tokens.shape[0]

    def to(self, device):
        """Returns the tokens on ``device``."""
        return Tokens(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def truncate(self, num_semantic=None, num_paralinguistic=None):
        """The tokens with only the first codebooks of S and P (a lower bitrate).

        Arguments
        ---------
        num_semantic, num_paralinguistic : int, optional
            Residual codebooks kept in S and in P (all by default; 0 drops the stream,
            which the decoder reads as zero vectors).

        Example
        -------
        >>> tokens = Tokens(torch.zeros(1, 4, dtype=torch.long),
        ...                 torch.zeros(1, 10, 1, dtype=torch.long),
        ...                 torch.zeros(1, 5, 2, dtype=torch.long), torch.tensor([3200]))
        >>> tokens.truncate(num_paralinguistic=1).paralinguistic_tokens.shape
        torch.Size([1, 5, 1])
        """
        kept = {"semantic_tokens": num_semantic, "paralinguistic_tokens": num_paralinguistic}
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            count = kept.get(f.name)
            if count is not None:
                if not 0 <= count <= value.shape[-1]:
                    raise ValueError(
                        f"cannot keep {count} {f.name.split('_')[0]} codebooks of "
                        f"{value.shape[-1]}"
                    )
                value = value[..., :count]
            values[f.name] = value
        return Tokens(**values)

    def __getitem__(self, index):
        """Selects utterances; an int keeps the batch dimension."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Tokens(**{f.name: getattr(self, f.name)[index] for f in fields(self)})
