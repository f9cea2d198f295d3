"""Embeddings of discrete tokens for downstream models: one table over all codebooks,
initialised from the codec's codebooks, and attention pooling over the codebooks.

The same layout as DASB's ``Discrete_EmbeddingLayer`` and ``AttentionMLP``: the tokens of
column ``k`` index rows ``k * vocab_size + code`` of one table, so
:meth:`unicodec.dasb.UniCodecTokenizer.get_pretrained_embeddings` initialises it; a small
MLP scores each column's embedding per frame and a softmax over the columns weighs them
into one vector per frame.

Authors
 * UniCodec authors 2026
"""

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    """Embeds ``[B, N, K]`` tokens of ``K`` columns into ``[B, N, K, dim]``.

    Arguments
    ---------
    num_columns : int
        Token columns (codebooks).
    vocab_size : int
        Codes per column (the table has ``num_columns * vocab_size`` rows).
    dim : int
        Embedding dimension.
    pretrained : torch.Tensor, optional
        ``[num_columns * vocab_size, H]`` initial rows (``H <= dim``: zero-padded), e.g.
        the codec's codebooks.
    freeze : bool
        Keep the table fixed.

    Example
    -------
    >>> embedding = TokenEmbedding(num_columns=3, vocab_size=16, dim=8)
    >>> embedding(torch.randint(0, 16, (2, 10, 3))).shape
    torch.Size([2, 10, 3, 8])
    >>> table = torch.randn(3 * 16, 8)
    >>> embedding = TokenEmbedding(3, 16, 8, pretrained=table)
    >>> tokens = torch.tensor([[[1, 2, 3]]])
    >>> torch.equal(embedding(tokens)[0, 0, 2], table[2 * 16 + 3])  # column 2, code 3
    True
    """

    def __init__(self, num_columns, vocab_size, dim, pretrained=None, freeze=False):
        super().__init__()
        self.num_columns = num_columns
        self.vocab_size = vocab_size
        self.table = nn.Embedding(num_columns * vocab_size, dim)
        if pretrained is not None:
            self.load_pretrained(pretrained)
        self.table.weight.requires_grad_(not freeze)
        self.register_buffer(
            "offsets", torch.arange(num_columns) * vocab_size, persistent=False
        )

    @torch.no_grad()
    def load_pretrained(self, rows):
        """Copies ``[num_columns * vocab_size, H]`` rows into the table (H <= dim)."""
        rows = torch.as_tensor(rows, dtype=self.table.weight.dtype)
        expected = self.num_columns * self.vocab_size
        if rows.shape[0] != expected or rows.shape[1] > self.table.embedding_dim:
            raise ValueError(
                f"pretrained embeddings {tuple(rows.shape)} do not fit a table of "
                f"{expected} rows x {self.table.embedding_dim}"
            )
        self.table.weight.zero_()
        self.table.weight[:, : rows.shape[1]] = rows.to(self.table.weight.device)

    def forward(self, tokens):
        """``[B, N, K, dim]`` embeddings of ``[B, N, K]`` tokens (the input is not changed)."""
        if tokens.shape[-1] != self.num_columns:
            raise ValueError(
                f"tokens have {tokens.shape[-1]} columns, the embedding {self.num_columns}"
            )
        codes = tokens.long().clamp(0, self.vocab_size - 1)
        return self.table(codes + self.offsets)


class CodebookAttention(nn.Module):
    """Weighs the ``K`` column embeddings of each frame into one vector (softmax over K).

    Arguments
    ---------
    dim : int
        Embedding dimension.
    hidden_dim : int
        Hidden width of the scoring MLP.

    Example
    -------
    >>> pool = CodebookAttention(dim=8, hidden_dim=16)
    >>> pool(torch.randn(2, 10, 3, 8)).shape
    torch.Size([2, 10, 8])
    """

    def __init__(self, dim, hidden_dim=128):
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 1, bias=False)
        )

    def forward(self, embeddings):
        """``[B, N, dim]`` of ``[B, N, K, dim]``."""
        weights = torch.softmax(self.score(embeddings), dim=2)
        return (weights * embeddings).sum(dim=2)
