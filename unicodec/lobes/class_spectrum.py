"""G's class spectra: the speaker's spectral envelope of each class of S codes, as measured.

The voice an utterance is heard in is not only its overall spectrum (G's long-term
spectrum tokens) but how each of its sounds is shaped: the formants of this speaker's
vowels, the colour of their fricatives. The S codes are grouped into a few classes
(k-means of S's codebook, so that a class holds similar sounds); for each class the
utterance's mean log mel power over the frames whose S code falls in it is taken, less
the mean over all its frames, as cepstral coefficients. Coded in G as
scalar tokens (beside the long-term spectrum's), they reach the decoder, which adds to
each frame's log gains the spectrum of that frame's class and keeps its learned gains
from making the classes differ (:class:`~unicodec.lobes.decoder.FusionDecoder`'s
``spectrum_classes``): how the classes differ in its output is how this speaker's do,
not how the training voices' do.

Both sides take a frame's class from its S code alone, so what the encoder measured is
what the decoder applies; a class with no frame in the utterance has zero offsets.

Authors
 * UniCodec authors 2026
"""

import torch
import torchaudio
from torch import nn

from unicodec.lengths import frame_mask, relative_to_count
from unicodec.lobes.codebook_ops import kmeans
from unicodec.lobes.global_encoder import dct_matrix


class ClassSpectrum(nn.Module):
    """Classes of S codes, and each class's spectrum in an utterance.

    Arguments
    ---------
    num_classes : int
        Classes the S codes are grouped into.
    coefficients : int
        Cepstral coefficients (1 to ``coefficients``) of each class's spectrum.
    codebook_size : int
        Codes of S's (first) codebook.
    sample_rate : int
        Sample rate of the waveform.
    n_mels, n_fft : int
        The mel filterbank (the global encoder's: its long-term spectrum is the reference).
    hop_length : int
        Hop of the S frames: one mel frame per S frame.
    kmeans_iterations : int
        Lloyd iterations each time the classes follow S's codebook (:meth:`update`).

    Example
    -------
    >>> spectra = ClassSpectrum(num_classes=4, coefficients=6, codebook_size=32)
    >>> spectra.update(torch.randn(32, 16))  # S's codebook, [codebook_size, dim]
    >>> sorted(set(spectra.class_of_code.tolist())) == list(range(4))
    True
    >>> codes = torch.randint(0, 32, (2, 50))  # S codes of 50 frames (one second)
    >>> values = spectra(torch.randn(2, 16000), torch.tensor([1.0, 0.6]), codes)
    >>> values.shape  # 4 classes x 6 coefficients per utterance
    torch.Size([2, 24])
    >>> spectra.classes(codes).shape  # each frame's class, as the decoder takes it
    torch.Size([2, 50])
    """

    def __init__(self, num_classes=8, coefficients=12, codebook_size=256, sample_rate=16000,
                 n_mels=80, n_fft=640, hop_length=320, kmeans_iterations=4):
        super().__init__()
        if num_classes > codebook_size:
            raise ValueError(
                f"num_classes ({num_classes}) must be <= codebook_size ({codebook_size})"
            )
        if coefficients >= n_mels:
            raise ValueError(f"coefficients ({coefficients}) must be < n_mels ({n_mels})")
        self.num_classes = num_classes
        self.coefficients = coefficients
        self.hop_length = hop_length
        self.kmeans_iterations = kmeans_iterations
        self.melspec = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=min(n_fft, int(0.025 * sample_rate)),
            hop_length=hop_length, n_mels=n_mels, center=True, pad_mode="constant",
        )
        self.register_buffer("dct", dct_matrix(n_mels, coefficients + 1)[:, 1:],
                             persistent=False)
        # until the first update: code c in class c mod num_classes
        self.register_buffer("class_of_code", torch.arange(codebook_size) % num_classes)
        # the classes' centres in S's codebook space, where the next update starts from
        self.register_buffer("centers", torch.zeros(0), persistent=False)

    @property
    def dim(self):
        """Values per utterance: ``num_classes * coefficients``."""
        return self.num_classes * self.coefficients

    @torch.no_grad()
    def update(self, codebook):
        """Regroups the codes by k-means of S's codebook ``[codebook_size, D]`` (from the
        previous centres, or from evenly spaced codes the first time)."""
        vectors = codebook.detach().float()
        if vectors.shape[0] != self.class_of_code.shape[0]:
            raise ValueError(
                f"S's codebook has {vectors.shape[0]} codes, the classes were built for "
                f"{self.class_of_code.shape[0]}"
            )
        centers = self.centers
        if centers.shape != (self.num_classes, vectors.shape[1]):
            step = vectors.shape[0] // self.num_classes
            centers = vectors[::step][: self.num_classes].clone()
        centers = kmeans(vectors, self.num_classes, self.kmeans_iterations, init=centers)
        self.centers = centers
        self.class_of_code = torch.cdist(vectors, centers).argmin(1)

    def classes(self, codes):
        """Class ``[B, T]`` of each frame's S codes ``[B, T]`` (or ``[B, T, K]``: the
        first codebook's)."""
        if codes.dim() == 3:
            codes = codes[..., 0]
        return self.class_of_code[codes.long()]

    def forward(self, wav, wav_lens, codes):
        """Spectrum of each class ``[B, num_classes * coefficients]`` (class-major) in each
        utterance of a padded batch ``[B, T]`` whose S frames have ``codes`` ``[B, Ts]``:
        cepstral coefficients 1..K of the mean log mel power over the class's frames,
        less the mean over all its frames (the frame-wise log domain in which the
        decoder's gains add)."""
        classes = self.classes(codes)
        frames = classes.shape[1]
        num_samples = relative_to_count(wav_lens, wav.shape[-1])
        counts = torch.div(num_samples + self.hop_length - 1, self.hop_length,
                           rounding_mode="floor").clamp(1, frames)
        with torch.autocast(wav.device.type, enabled=False):
            power = self.melspec(wav.float()).transpose(1, 2)[:, :frames]  # [B, Ts, M]
            if power.shape[1] < frames:
                raise ValueError(f"{power.shape[1]} mel frames for {frames} S frames")
            mask = frame_mask(counts, frames).float()
            onehot = nn.functional.one_hot(classes, self.num_classes).float() * mask[..., None]
            total = (power * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            floor = 1e-6 * total.mean(-1, keepdim=True) + 1e-12  # 60 dB down: no level
            log = torch.log(power + floor[:, None])
            class_frames = onehot.sum(1)  # [B, K]
            mean = torch.einsum("btk,btm->bkm", onehot, log) / class_frames[..., None].clamp(min=1)
            overall = (log * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            values = (mean - overall[:, None]) @ self.dct  # filter weights cancel out
            values = values * (class_frames[..., None] > 0)
        return values.flatten(1).to(wav.dtype)

