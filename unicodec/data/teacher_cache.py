"""Teacher outputs on disk, one file per utterance id, keyed by the teacher's fingerprint.

The recipe fills the cache once (:func:`cached_features`) and its data pipeline reads the
features of each crop back, so a large self-supervised teacher need not run during
training.

Authors
 * UniCodec authors 2026
"""

import os
import urllib.parse

import torch

from unicodec.lengths import relative_to_count


class TeacherCache:
    """Teacher outputs on disk, one file per utterance id, under a folder per teacher.

    Files live in ``folder/<fingerprint>/``, so a different teacher, layer or rate never
    reads another's files. Each file holds the valid frames of one utterance. Writes are
    atomic (a temporary file renamed), so ranks of a DDP run may share the folder. Nothing is
    read or written until :meth:`get` or :meth:`put`.

    Arguments
    ---------
    folder : str
        Root folder of the cache.
    fingerprint : str or object
        The teacher's fingerprint, or the teacher itself (anything with a ``fingerprint``
        attribute, e.g. :class:`SSLTeacher`).
    dtype : torch.dtype, optional
        Stored type (e.g. ``torch.float16`` halves the disk); read back as float32.

    Example
    -------
    >>> import tempfile
    >>> cache = TeacherCache(tempfile.mkdtemp(), fingerprint="abc")
    >>> cache.get("spk1/utt1") is None
    True
    >>> cache.put("spk1/utt1", torch.ones(3, 4))
    >>> cache.get("spk1/utt1").shape
    torch.Size([3, 4])
    """

    def __init__(self, folder, fingerprint, dtype=None):
        fingerprint = getattr(fingerprint, "fingerprint", fingerprint)
        self.folder = os.path.join(str(folder), str(fingerprint))
        self.dtype = dtype

    def path(self, utt_id):
        """The file of ``utt_id`` (any string; made safe for a file name)."""
        return os.path.join(self.folder, urllib.parse.quote(str(utt_id), safe="") + ".pt")

    def get(self, utt_id):
        """The stored tensor of ``utt_id``, or None."""
        path = self.path(utt_id)
        if not os.path.exists(path):
            return None
        feats = torch.load(path, map_location="cpu", weights_only=True)
        return feats.float() if self.dtype is not None else feats

    def put(self, utt_id, feats):
        """Stores ``feats`` (a tensor) for ``utt_id``."""
        os.makedirs(self.folder, exist_ok=True)
        feats = feats.detach().cpu()
        if self.dtype is not None:
            feats = feats.to(self.dtype)
        path = self.path(utt_id)
        tmp = f"{path}.{os.getpid()}.tmp"
        torch.save(feats.clone(), tmp)
        os.replace(tmp, path)


def cached_features(teacher, ids, wav, wav_lens=None, cache=None):
    """Teacher features of a batch, computed only for utterances missing from ``cache``.

    An id must name the exact audio given: with random crops, put the crop in the id (e.g.
    ``f"{utt_id}@{start}"``). A stored entry whose frame count does not match is recomputed.

    Arguments
    ---------
    teacher : SSLTeacher
        The teacher (anything with ``forward(wav, wav_lens)`` and ``num_frames(n)``).
    ids : list of str
        Utterance ids, one per row of ``wav``.
    wav : torch.Tensor
        ``[B, T]`` waveforms.
    wav_lens : torch.Tensor, optional
        ``[B]`` relative lengths.
    cache : TeacherCache, optional
        Where features are read and stored. None: no caching.

    Returns
    -------
    torch.Tensor
        The same as ``teacher(wav, wav_lens)``, on ``wav``'s device.

    Example
    -------
    >>> import tempfile
    >>> class Teacher(torch.nn.Module):
    ...     calls = 0
    ...     def num_frames(self, n):
    ...         return -(-n // 320)
    ...     def forward(self, wav, wav_lens):
    ...         Teacher.calls += 1
    ...         return torch.ones(wav.shape[0], self.num_frames(wav.shape[1]), 8)
    >>> cache = TeacherCache(tempfile.mkdtemp(), fingerprint="t")
    >>> wav = torch.randn(2, 3200)
    >>> cached_features(Teacher(), ["a", "b"], wav, torch.ones(2), cache).shape
    torch.Size([2, 10, 8])
    >>> _ = cached_features(Teacher(), ["a", "b"], wav, torch.ones(2), cache)
    >>> Teacher.calls
    1
    """
    if cache is None:
        return teacher(wav, wav_lens)
    batch, num_samples = wav.shape
    if wav_lens is None:
        wav_lens = torch.ones(batch, device=wav.device)
    lengths = relative_to_count(wav_lens, num_samples).clamp(min=1)
    frames = [int(teacher.num_frames(int(n))) for n in lengths]
    stored = [cache.get(i) for i in ids]
    missing = [b for b, feats in enumerate(stored) if feats is None or feats.shape[0] != frames[b]]
    if missing:
        sub_len = int(lengths[missing].max())
        sub_wav = wav[missing, :sub_len]
        sub_lens = lengths[missing].to(wav_lens.dtype) / sub_len
        new = teacher(sub_wav, sub_lens)
        for row, b in enumerate(missing):
            stored[b] = new[row, : frames[b]].detach().cpu()
            cache.put(ids[b], stored[b])
    total = int(teacher.num_frames(num_samples))
    out = stored[0].new_zeros((batch, total) + tuple(stored[0].shape[1:]))
    for b, feats in enumerate(stored):
        out[b, : feats.shape[0]] = feats.to(out.dtype)
    return out.to(wav.device)
