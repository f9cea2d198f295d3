"""Evaluation of trained codecs: what they rebuild and what their tokens hold.

- :mod:`~unicodec.evaluation.metrics`: resynthesis metrics, codebook usage, pictures;
- :mod:`~unicodec.evaluation.judges`: optional judges (PESQ, STOI, speaker similarity,
  DNSMOS, WER, Harvest pitch);
- :mod:`~unicodec.evaluation.probes`: disentanglement probes on token embeddings;
- :mod:`~unicodec.evaluation.bitrate_ladder`: quality against bitrate;
- :mod:`~unicodec.evaluation.codec2`: Codec 2, the classical anchor;
- :mod:`~unicodec.evaluation.report`: the report of one model
  (``python -m unicodec.evaluation --model ...``);
- :mod:`~unicodec.evaluation.compare`: reports side by side
  (``python -m unicodec.evaluation compare ...``).

The codec (``unicodec.lobes``, ``unicodec.tokens``, the inference interface) never imports
this package.

Authors
 * UniCodec authors 2026
"""
