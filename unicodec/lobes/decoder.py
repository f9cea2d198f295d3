"""The fusion decoder: S and upsampled P frames, conditioned on G, back to a waveform.

S and P are summed after projection (P repeated to the S frame rate and refined by a
small convolution), run through ConvNeXt blocks whose layer norms take their scale and
shift from the global vector (adaptive layer norm), and turned into a waveform by an
inverse-STFT head (Vocos), which is fast on CPU.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from unicodec.lobes.convnext import ConvNeXtBlock, FrameTransformer
from unicodec.lobes.global_encoder import dct_matrix
from unicodec.lobes.pitch_quantizer import SPECTRUM_SCALE
from unicodec.lobes.quantizers import LEVEL_SCALE


class ISTFTHead(nn.Module):
    """Predicts STFT magnitude and phase per frame and inverts them (Vocos).

    Arguments
    ---------
    dim : int
        Input frame dimension.
    n_fft : int
        FFT size (>= 2 * hop_length).
    hop_length : int
        Samples per frame.

    Example
    -------
    >>> head = ISTFTHead(dim=16, n_fft=1280, hop_length=320)
    >>> head(torch.randn(2, 10, 16)).shape
    torch.Size([2, 3200])
    """

    def __init__(self, dim, n_fft=1280, hop_length=320):
        super().__init__()
        if n_fft < 2 * hop_length:
            raise ValueError(f"n_fft ({n_fft}) must be >= 2 * hop_length ({hop_length})")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.proj = nn.Linear(dim, n_fft + 2)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x):
        """Waveform ``[B, T * hop_length]`` of frames ``[B, T, dim]``."""
        with torch.autocast(x.device.type, enabled=False):  # no bf16 rounding of the STFT
            log_mag, phase = self.proj(x.float()).transpose(1, 2).chunk(2, dim=1)
            # a frame of a full-scale sine has magnitude n_fft / 4: allow 10 x that
            mag = torch.exp(log_mag.clamp(max=math.log(2.5 * self.n_fft)))
            spec = torch.polar(mag, phase)
            return torch.istft(
                spec,
                self.n_fft,
                hop_length=self.hop_length,
                window=self.window,
                center=True,
                length=x.shape[1] * self.hop_length,
            )


class SourceFilterHead(nn.Module):
    """Shapes harmonic and noise excitations with per-frame spectral envelopes.

    The excitations (:class:`~unicodec.lobes.harmonic_source.HarmonicSource`) are taken to
    the STFT domain, each multiplied by a non-negative envelope predicted from the frame
    (the filter: ``exp`` of a linear map, one gain per bin), summed and inverted. The
    harmonics' phases come from the source, so the output's pitch is the source's F0.

    Arguments
    ---------
    dim : int
        Input frame dimension.
    n_fft : int
        FFT size (>= 2 * hop_length).
    hop_length : int
        Samples per frame.

    Example
    -------
    >>> head = SourceFilterHead(dim=16, n_fft=1280, hop_length=320)
    >>> head(torch.randn(2, 10, 16), torch.randn(2, 3200), torch.randn(2, 3200)).shape
    torch.Size([2, 3200])
    """

    def __init__(self, dim, n_fft=1280, hop_length=320):
        super().__init__()
        if n_fft < 2 * hop_length:
            raise ValueError(f"n_fft ({n_fft}) must be >= 2 * hop_length ({hop_length})")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.proj = nn.Linear(dim, n_fft + 2)
        nn.init.constant_(self.proj.bias, -3.0)  # start quiet: gains of about 0.05
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def _stft(self, wav):
        return torch.stft(
            wav, self.n_fft, self.hop_length, window=self.window, center=True,
            return_complex=True,
        )

    def forward(self, x, harmonic, noise, offset=None, adjust=None):
        """Waveform ``[B, T * hop_length]`` of frames ``[B, T, dim]`` and excitations;
        ``offset`` ``[B, n_fft + 2]``, when given, is added to every frame's log gains
        (``[B, T, n_fft + 2]``: each frame's own), after ``adjust`` (a function of the
        learned log gains ``[B, T, n_fft + 2]``, when given)."""
        with torch.autocast(x.device.type, enabled=False):
            log_gains = self.proj(x.float())
            if adjust is not None:
                log_gains = adjust(log_gains)
            if offset is not None:
                offset = offset.float()
                log_gains = log_gains + (offset.unsqueeze(1) if offset.dim() == 2 else offset)
            gains = log_gains.transpose(1, 2).clamp(max=8.0).exp()
            harmonic_gain, noise_gain = gains.chunk(2, dim=1)
            frames = x.shape[1]
            spec_h = self._stft(harmonic.float())[..., :frames]
            spec_n = self._stft(noise.float())[..., :frames]
            spec = harmonic_gain * spec_h + noise_gain * spec_n
            return torch.istft(
                spec, self.n_fft, hop_length=self.hop_length, window=self.window,
                center=True, length=frames * self.hop_length,
            )


class PitchPredictor(nn.Module):
    """Log-F0 and voicing per S frame from the P frames (repeated to the S rate) and G.

    Pitch is read from P and G alone, never from S: the contour is P's, the level G's.
    A small MLP over each frame's P vector, its neighbours (a convolution over three
    frames) and G.

    With ``explicit=True`` the last dimension of G and of the P frames are pitch tokens
    (:class:`~unicodec.lobes.pitch_quantizer.PitchLevelQuantizer`'s dequantized values,
    ``LEVEL_SCALE * (log_f0 - center)``): G's is the utterance's level, P's each frame's
    log-F0 relative to it. The predicted log-F0 is then their sum plus the MLP's
    correction, which starts at zero: the tokens give the pitch exactly from the first
    step, and an unseen voice's level is not pulled towards the training voices'.

    Arguments
    ---------
    input_dim : int
        Dimension of the P frames.
    global_dim : int
        Dimension of G (0 for a codec without G).
    hidden_dim : int
        Hidden width.
    f0_bias : float
        Initial log-F0 (Hz, natural log) without ``explicit``.
    explicit : bool
        Read log-F0 from the pitch tokens (needs G).
    global_center, paralinguistic_center : float
        The ``center`` of G's and of P's pitch tokens.

    Example
    -------
    >>> predictor = PitchPredictor(input_dim=16, global_dim=8, hidden_dim=32)
    >>> predictor(torch.randn(2, 10, 16), torch.randn(2, 8)).shape
    torch.Size([2, 10, 2])
    >>> explicit = PitchPredictor(input_dim=16, global_dim=8, hidden_dim=32, explicit=True)
    >>> p, g = torch.zeros(1, 10, 16), torch.zeros(1, 8)
    >>> g[:, -1] = LEVEL_SCALE * (math.log(200.0) - 5.0)   # G: a 200 Hz voice
    >>> p[:, 5:, -1] = LEVEL_SCALE * math.log(2.0)           # P: an octave up at frame 5
    >>> [round(f) for f in explicit(p, g)[0, [0, 9], 0].exp().tolist()]
    [200, 400]
    """

    def __init__(self, input_dim, global_dim, hidden_dim, f0_bias=math.log(150.0),
                 explicit=False, global_center=5.0, paralinguistic_center=0.0):
        super().__init__()
        if explicit and not global_dim:
            raise ValueError("explicit pitch reads G's level token: give global_dim")
        self.explicit = explicit
        self.offset = global_center + paralinguistic_center
        self.local = nn.Conv1d(input_dim, hidden_dim, kernel_size=3, padding=1)
        self.global_proj = nn.Linear(global_dim, hidden_dim) if global_dim else None
        self.mlp = nn.Sequential(
            nn.LeakyReLU(0.1), nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU(0.1),
            nn.Linear(hidden_dim, 2),
        )
        nn.init.zeros_(self.mlp[-1].bias)
        if explicit:
            nn.init.zeros_(self.mlp[-1].weight[0])  # no correction at first
        else:
            self.mlp[-1].bias.data[0] = f0_bias

    def forward(self, paralinguistic, global_vector=None):
        """``[B, T, 2]``: log-F0 and voicing logit of P frames ``[B, T, D]`` and G."""
        h = self.local(paralinguistic.transpose(1, 2)).transpose(1, 2)
        if self.global_proj is not None:
            h = h + self.global_proj(global_vector).unsqueeze(1)
        with torch.autocast(h.device.type, enabled=False):  # bf16 log-F0: 50-cent steps
            out = self.mlp(h.float())
            if not self.explicit:
                return out
            tokens = paralinguistic[..., -1].float() + global_vector[:, -1:].float()
            log_f0 = tokens / LEVEL_SCALE + self.offset + out[..., 0]
            return torch.stack([log_f0, out[..., 1]], dim=-1)


class FusionDecoder(nn.Module):
    """Rebuilds a waveform from semantic and paralinguistic frames and a global vector.

    Arguments
    ---------
    input_dim : int
        Dimension of the quantized S and P frames.
    global_dim : int or None
        Dimension of the quantized global vector; None (or 0) for a codec without G
        (the blocks then use plain layer norms).
    dim : int
        Width of the ConvNeXt blocks.
    intermediate_dim : int
        Hidden size of the ConvNeXt MLPs.
    num_blocks : int
        ConvNeXt blocks (all conditioned on G by adaptive layer norm).
    num_transformer_layers : int
        Transformer layers after the blocks (0 for none).
    num_heads : int
        Attention heads.
    paralinguistic_stride : int
        S frames per P frame.
    n_fft : int
        FFT size of the inverse-STFT head.
    hop_length : int
        Samples per S frame.
    paralinguistic_dim : int, optional
        Dimension of the P frames when it differs from ``input_dim`` (an explicit pitch
        token adds one).
    source : HarmonicSource, optional
        With a source the decoder is a source-filter one: it predicts each frame's log-F0
        and voicing from the fused frames (:meth:`decode`), builds the harmonic and noise
        excitations from that F0 (or from a given one) and shapes them
        (:class:`SourceFilterHead`). Without, an inverse-STFT head predicts magnitude and
        phase (Vocos).
    f0_bias : float
        Initial log-F0 of the pitch prediction (Hz, natural log).
    explicit_pitch : bool
        G's and P's last dimensions are pitch tokens (:class:`PitchPredictor`'s
        ``explicit``): the source's F0 is their sum (P's contour interpolated linearly
        to the S rate) plus a learned correction.
    global_pitch_center, paralinguistic_pitch_center : float
        The ``center`` of G's and of P's pitch tokens.
    spectrum_coefficients : int
        G's spectrum tokens (the cepstral coefficients of the long-term spectrum,
        :class:`~unicodec.lobes.global_encoder.GlobalEncoder`'s ``spectrum_coefficients``,
        just before its pitch level): their spectral shape, taken back through the DCT to
        the mel bands and interpolated to the head's bins, is added to every frame's log
        gains, so the voice's and the channel's overall spectrum is applied as coded
        rather than learned (needs a source). The tokens hold each coefficient relative to
        its centre (the training corpus' mean), so the decoder learns the mean spectrum and
        what each frame adds to it.
    spectrum_mels : dict
        ``n_mels`` and ``n_fft`` of the global encoder's mel filterbank.
    global_input : bool
        Also add a projection of G to the fused S+P frames before the blocks, so that the
        first block's convolutions mix the voice with the content (the adaptive layer
        norms only scale and shift each channel).
    spectrum_classes, class_coefficients : int
        G's class spectra (:class:`~unicodec.lobes.class_spectrum.ClassSpectrum`: the
        utterance's spectrum of each of ``spectrum_classes`` classes of S codes,
        ``class_coefficients`` cepstral coefficients each, relative to the utterance's
        mean, between the spectrum tokens and the pitch level): each frame's log gains
        also take the spectrum of its class (``classes``, given to :meth:`decode`), and
        what the learned gains add is made the same for every class (their class means
        less their utterance mean, in the span of those coefficients, are taken out), so
        that how the classes differ in the output is what G says.
        Needs ``spectrum_coefficients`` >= ``class_coefficients``.

    Example
    -------
    >>> dec = FusionDecoder(input_dim=16, global_dim=8, dim=32, intermediate_dim=64,
    ...                     num_blocks=2, num_transformer_layers=0)
    >>> wav = dec(torch.randn(2, 10, 16), torch.randn(2, 5, 16), torch.randn(2, 8))
    >>> wav.shape
    torch.Size([2, 3200])
    """

    def __init__(
        self,
        input_dim=256,
        global_dim=256,
        dim=384,
        intermediate_dim=1152,
        num_blocks=8,
        num_transformer_layers=0,
        num_heads=6,
        paralinguistic_stride=2,
        n_fft=1280,
        hop_length=320,
        source=None,
        f0_bias=math.log(150.0),
        paralinguistic_dim=None,
        explicit_pitch=False,
        global_pitch_center=5.0,
        paralinguistic_pitch_center=0.0,
        spectrum_coefficients=0,
        spectrum_mels=None,
        global_input=False,
        spectrum_classes=0,
        class_coefficients=0,
    ):
        super().__init__()
        if bool(spectrum_classes) != bool(class_coefficients) or (
            class_coefficients > spectrum_coefficients
        ):
            raise ValueError(
                f"class spectra ({spectrum_classes} classes x {class_coefficients} "
                "coefficients) need both numbers, and spectrum_coefficients "
                f"({spectrum_coefficients}) >= class_coefficients"
            )
        self.spectrum_classes = spectrum_classes
        self.class_coefficients = class_coefficients
        if spectrum_coefficients and (source is None or not global_dim):
            raise ValueError("spectrum_coefficients need a source and a global vector")
        if global_input and not global_dim:
            raise ValueError("global_input needs a global vector (global_dim)")
        self.spectrum_coefficients = spectrum_coefficients
        self.paralinguistic_stride = paralinguistic_stride
        self.hop_length = hop_length
        self.semantic_proj = nn.Linear(input_dim, dim)
        paralinguistic_dim = paralinguistic_dim or input_dim
        self.paralinguistic_proj = nn.Linear(paralinguistic_dim, dim)
        self.paralinguistic_smooth = nn.Conv1d(
            dim, dim, kernel_size=2 * paralinguistic_stride + 1,
            padding=paralinguistic_stride, groups=dim,
        )
        self.global_proj = nn.Linear(global_dim, dim) if global_dim else None
        self.global_input = nn.Linear(global_dim, dim) if global_input else None
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(
                dim,
                intermediate_dim,
                layer_scale=1.0 / num_blocks,
                cond_dim=dim if global_dim else None,
            )
            for _ in range(num_blocks)
        )
        self.transformer = FrameTransformer(
            dim, num_transformer_layers, num_heads, ffn_dim=4 * dim
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.source = source
        if source is None:
            self.head = ISTFTHead(dim, n_fft=n_fft, hop_length=hop_length)
            self.pitch = None
        else:
            if source.hop_length != hop_length:
                raise ValueError(
                    f"source hop ({source.hop_length}) != decoder hop ({hop_length})"
                )
            self.head = SourceFilterHead(dim, n_fft=n_fft, hop_length=hop_length)
            if spectrum_coefficients:
                mels = {"n_mels": 80, "n_fft": 640, **(spectrum_mels or {})}
                basis = spectrum_basis(spectrum_coefficients, source.sample_rate, n_fft=n_fft,
                                       n_mels=mels["n_mels"], mel_n_fft=mels["n_fft"])
                self.register_buffer("spectrum_basis", basis, persistent=False)
                if class_coefficients:
                    pinv = torch.linalg.pinv(basis[:class_coefficients].double()).float()
                    self.register_buffer("class_pinv", pinv, persistent=False)
            self.pitch = PitchPredictor(
                paralinguistic_dim, global_dim or 0, dim, f0_bias=f0_bias,
                explicit=explicit_pitch, global_center=global_pitch_center,
                paralinguistic_center=paralinguistic_pitch_center,
            )

    def forward(self, semantic, paralinguistic, global_vector, mask=None):
        """Decodes a batch (the waveform of :meth:`decode`).

        Arguments
        ---------
        semantic : torch.Tensor
            ``[B, Ts, input_dim]`` quantized S frames.
        paralinguistic : torch.Tensor
            ``[B, Tp, input_dim]`` quantized P frames (``Tp * stride >= Ts``).
        global_vector : torch.Tensor
            ``[B, global_dim]`` quantized utterance vector.
        mask : torch.Tensor, optional
            ``[B, Ts]`` bool, True on valid S frames.

        Returns
        -------
        torch.Tensor
            ``[B, Ts * hop_length]`` waveform.
        """
        return self.decode(semantic, paralinguistic, global_vector, mask)[0]

    def decode(self, semantic, paralinguistic, global_vector, mask=None, log_f0=None,
               classes=None, spectrum_offset=None):
        """Decodes a batch; returns the waveform and the predicted pitch.

        Arguments
        ---------
        semantic, paralinguistic, global_vector, mask
            As in :meth:`forward`.
        log_f0 : torch.Tensor, optional
            ``[B, Ts]`` log-F0 the harmonic source uses instead of the predicted one
            (teacher forcing in training).
        classes : torch.Tensor, optional
            ``[B, Ts]`` long: each frame's class of S code (with ``spectrum_classes``).
        spectrum_offset : torch.Tensor, optional
            ``[B, spectrum_coefficients + spectrum_classes * class_coefficients]`` added
            to G's spectrum values (the long-term spectrum's coefficients, then the class
            spectra's) where the head applies them, and nowhere else: the network's
            input and conditions stay G's (a correction, :meth:`UniCodec.decode`'s
            ``spectrum_passes``).

        Returns
        -------
        wav : torch.Tensor
            ``[B, Ts * hop_length]`` waveform.
        pitch : torch.Tensor or None
            ``[B, Ts, 2]`` predicted log-F0 and voicing logit (None without a source).
        """
        length = semantic.shape[1]
        para_frames = paralinguistic.repeat_interleave(self.paralinguistic_stride, dim=1)
        para = self.paralinguistic_proj(para_frames[:, :length])
        if para.shape[1] < length:
            raise ValueError(
                f"{paralinguistic.shape[1]} paralinguistic frames cannot cover "
                f"{length} semantic frames (stride {self.paralinguistic_stride})"
            )
        para = self.paralinguistic_smooth(para.transpose(1, 2)).transpose(1, 2)
        x = self.semantic_proj(semantic) + para
        if self.global_input is not None:
            x = x + self.global_input(global_vector).unsqueeze(1)
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        x = x * mask.unsqueeze(-1).to(x.dtype)
        cond = None if self.global_proj is None else self.global_proj(global_vector)
        for block in self.blocks:
            x = block(x, mask, cond=cond)
        x = self.norm(self.transformer(x, mask))
        if self.source is None:
            return self.head(x), None
        pitch_frames = para_frames[:, :length]
        if self.pitch.explicit:
            # P's pitch token sampled at the S frames' centres, not repeated: no steps;
            # past an utterance's last P frame its value is held (never padding's)
            level = paralinguistic[..., -1]
            stride = self.paralinguistic_stride
            valid = torch.div(mask.sum(1) + stride - 1, stride, rounding_mode="floor")
            valid = valid.clamp(1, level.shape[1])
            positions = torch.arange(level.shape[1], device=level.device)[None]
            last = level.gather(1, (valid - 1)[:, None])
            level = torch.where(positions < valid[:, None], level, last)
            contour = F.interpolate(
                level[:, None], scale_factor=stride, mode="linear", align_corners=False,
            )[:, 0, :length]
            pitch_frames = torch.cat([pitch_frames[..., :-1], contour.unsqueeze(-1)], -1)
        pitch = self.pitch(pitch_frames, global_vector)
        source_f0 = pitch[..., 0].detach() if log_f0 is None else log_f0
        harmonic, noise = self.source(source_f0[:, :length])
        gains = self._global_gains(global_vector, classes, length, spectrum_offset)
        adjust = None
        if self.spectrum_classes:
            def adjust(log_gains):
                return self._same_for_every_class(log_gains, classes[:, :length], mask)
        return self.head(x, harmonic, noise, gains, adjust), pitch

    def _same_for_every_class(self, log_gains, classes, mask):
        """``log_gains`` ``[B, T, 2F]`` less, on each frame, how its class's mean differs
        from the utterance's mean (over the valid frames of ``mask``), in the span of the
        class spectra's coefficients."""
        weight = mask.to(log_gains.dtype)
        onehot = F.one_hot(classes.long(), self.spectrum_classes).to(log_gains.dtype)
        onehot = onehot * weight[..., None]
        count = onehot.sum(1)[..., None]  # [B, K, 1]
        class_mean = torch.einsum("btk,btf->bkf", onehot, log_gains) / count.clamp(min=1)
        mean = (log_gains * weight[..., None]).sum(1) / weight.sum(1)[:, None].clamp(min=1)
        difference = (class_mean - mean[:, None]) * (count > 0)
        bins = log_gains.shape[-1] // 2  # harmonic, noise
        coefficients = difference.unflatten(-1, (2, bins)) @ self.class_pinv  # [B, K, 2, C]
        shape = (coefficients @ self.spectrum_basis[: self.class_coefficients]).flatten(2)
        index = classes.long()[..., None].expand(-1, -1, shape.shape[-1])
        return log_gains - shape.gather(1, index)

    def _global_gains(self, global_vector, classes=None, length=None, offset=None):
        """Log gains (harmonic, noise) from G's spectrum tokens (plus ``offset``):
        ``[B, n_fft + 2]`` for every frame, ``[B, length, n_fft + 2]`` with class
        spectra; or None."""
        k = self.spectrum_coefficients
        n = self.spectrum_classes * self.class_coefficients
        if not k:
            if offset is not None:
                raise ValueError("spectrum_offset needs G's spectrum tokens")
            return None
        with torch.autocast(global_vector.device.type, enabled=False):
            values = global_vector[:, -1 - k - n:-1].float() / SPECTRUM_SCALE
            if offset is not None:
                if offset.shape != values.shape:
                    raise ValueError(
                        f"spectrum_offset {tuple(offset.shape)}: expected {tuple(values.shape)}"
                    )
                values = values + offset.float()
            log_power = values[:, :k] @ self.spectrum_basis
            if n:
                if classes is None:
                    raise ValueError("a decoder with class spectra needs each frame's class")
                c = self.class_coefficients
                table = values[:, k:].unflatten(1, (self.spectrum_classes, c))
                index = classes[:, :length, None].long().expand(-1, -1, c)
                frame = table.gather(1, index) @ self.spectrum_basis[:c]
                log_power = log_power[:, None] + frame
            half = 0.5 * log_power  # log power -> log magnitude
            return torch.cat([half, half], -1)


def spectrum_basis(coefficients, sample_rate, n_fft, n_mels=80, mel_n_fft=640):
    """``[coefficients, n_fft // 2 + 1]``: the log power over ``n_fft`` STFT bins of each
    cepstral coefficient (1 to ``coefficients``) of a log mel spectrum (orthonormal DCT
    over ``n_mels`` bands of a torchaudio filterbank of ``mel_n_fft`` points),
    interpolated linearly between the bands' centre frequencies and held beyond them.

    Example
    -------
    >>> basis = spectrum_basis(4, 16000, n_fft=1280, n_mels=80, mel_n_fft=640)
    >>> basis.shape
    torch.Size([4, 641])
    >>> bool(basis[0, :100].mean() > 0 > basis[0, -100:].mean())  # c1: a spectral tilt
    True
    """
    mel_fft = mel_n_fft
    freqs = torch.linspace(0, sample_rate / 2, mel_fft // 2 + 1, dtype=torch.float64)
    fb = torchaudio.functional.melscale_fbanks(
        mel_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate
    ).double()
    weight = fb.sum(0)
    centres = (fb * freqs[:, None]).sum(0) / weight.clamp(min=1e-12)
    centres = centres[weight > 0]
    bands = dct_matrix(n_mels, coefficients + 1)[:, 1:].double()[weight > 0].T  # [K, M']
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    upper = torch.searchsorted(centres, bins).clamp(1, len(centres) - 1)
    lo, hi = centres[upper - 1], centres[upper]
    w = ((bins - lo) / (hi - lo)).clamp(0, 1)
    return (bands[:, upper - 1] * (1 - w) + bands[:, upper] * w).float()
