"""Distillation targets for the semantic (S) tokens.

- :class:`SSLTeacher`: a frozen self-supervised speech model (WavLM, HuBERT, wav2vec 2.0 and
  their multilingual variants) loaded through SpeechBrain's huggingface integration; its hidden
  states are time-aligned to the S frames (50 Hz at 16 kHz for a hop of 320 samples).
- :class:`WeightedLayerSum`: learnable softmax weights over the teacher's layers.
(Phone targets: :mod:`unicodec.data.phones`; the teacher cache:
:mod:`unicodec.data.teacher_cache`.)

Authors
 * UniCodec authors 2026
"""

import functools
import hashlib
import json
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

# eps of the zero-mean unit-variance normalisation of transformers' Wav2Vec2FeatureExtractor
_NORM_EPS = 1e-7


@functools.lru_cache(maxsize=None)
def _frozen_ssl_class():
    """SpeechBrain's HF wav2vec2-family wrapper, tolerant of a missing preprocessor config.

    SpeechBrain's ``Wav2Vec2`` (parent of its ``HuBERT`` and ``WavLM``) loads any of the three
    through ``transformers.AutoModel``. It also reads ``preprocessor_config.json`` only to know
    whether the model expects normalised input; a folder without that file (a converted
    checkpoint) gets transformers' convention instead: normalise iff the conv feature
    extractor uses layer norm. Imported lazily: transformers is an optional dependency.
    """
    try:  # SpeechBrain >= 1.1
        from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
    except ImportError:  # SpeechBrain 1.0.x (the version DASB imports)
        from speechbrain.lobes.models.huggingface_transformers.wav2vec2 import Wav2Vec2
    from transformers import Wav2Vec2FeatureExtractor

    class FrozenSSL(Wav2Vec2):
        def load_feature_extractor(self, source, cache_dir, **kwargs):
            try:
                super().load_feature_extractor(source, cache_dir=cache_dir, **kwargs)
            except OSError:
                self.feature_extractor = Wav2Vec2FeatureExtractor(
                    sampling_rate=16000,
                    do_normalize=getattr(self.config, "feat_extract_norm", "group") == "layer",
                )

    return FrozenSSL


def _relative_to_samples(wav_lens, num_samples):
    """Absolute lengths (long, at least 1) from SpeechBrain relative lengths."""
    if wav_lens is None:
        return None
    lengths = torch.round(wav_lens.float() * num_samples).long()
    return lengths.clamp(1, num_samples)


class SSLTeacher(nn.Module):
    """A frozen self-supervised speech model whose hidden states are the targets of S.

    The model is loaded through SpeechBrain's huggingface integration (the wrapper behind
    ``speechbrain.integrations.huggingface.WavLM``, ``HuBERT`` and ``Wav2Vec2``, which load any
    of these through ``transformers.AutoModel``), so ``source`` may be a hub id
    (``microsoft/wavlm-base-plus``, ``utter-project/mHuBERT-147``,
    ``facebook/wav2vec2-xls-r-300m``) or a local folder holding ``config.json`` and the weights.

    The teacher is always in eval mode and runs under ``torch.no_grad``. The input is taken at
    the codec's ``sample_rate`` and resampled to the teacher's rate when they differ; the
    chosen hidden states are then aligned to the S frames: an utterance of ``n`` samples gives
    ``ceil(n / hop_length)`` frames (the teacher gives slightly fewer, its receptive field
    being 400 samples: the last frame is repeated; a teacher at another frame rate is
    linearly interpolated). Frames past each utterance's end are zero.

    A padded batch gives the same features, to float tolerance, as each utterance alone:
    padding is zeroed, input normalisation (when the model expects it) uses only valid
    samples, and the transformer gets an attention mask. Models whose first conv layer uses
    group norm (``feat_extract_norm="group"``: the *base* models, e.g. wavlm-base-plus,
    hubert-base, mHuBERT-147) normalise over the whole time axis, padding included, so they
    are run one utterance at a time (``per_utterance=None`` picks this automatically).

    Hidden states are numbered like transformers' ``hidden_states``: 0 is the input of the
    first transformer layer (projected CNN features), ``i`` the output of layer ``i``. With
    transformers 5 the last one of a pre-norm ("stable layer norm", large) model is taken
    before the encoder's final layer norm (transformers 4 took it after).

    Arguments
    ---------
    source : str
        Hub id or local folder of the pretrained model.
    save_path : str
        Folder the hub download is stored in (SpeechBrain's ``save_path``).
    layer : int, list of int or None
        The hidden state to return (output ``[B, Ts, D]``), several of them (output
        ``[B, Ts, len(layer), D]``), or None for all of them (``[B, Ts, num_layers, D]``,
        where the attribute ``num_layers`` is the number of transformer layers + 1).
    sample_rate : int
        Sample rate of the waveforms given to ``forward`` (the codec's).
    hop_length : int
        Samples per S frame at ``sample_rate``.
    per_utterance : bool or None
        Run the model one utterance at a time (exact for group-norm models). None: only when
        the model's feature extractor uses group norm.
    drop_unused_layers : bool
        Remove the transformer layers above the highest requested one (they do not change it).
        Saves time and memory for a middle layer.

    Example
    -------
    A small WavLM with random weights, saved to a folder (offline; a hub name works too):

    >>> import tempfile, transformers
    >>> folder = tempfile.mkdtemp()
    >>> config = transformers.WavLMConfig(
    ...     hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    ...     conv_dim=(16,) * 5, conv_stride=(5, 4, 4, 2, 2), conv_kernel=(10, 8, 8, 4, 4),
    ...     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, num_buckets=32,
    ...     max_bucket_distance=100, feat_extract_norm="layer", do_stable_layer_norm=True)
    >>> transformers.WavLMModel(config).save_pretrained(folder)
    >>> _ = transformers.Wav2Vec2FeatureExtractor(
    ...     do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    >>> teacher = SSLTeacher(source=folder, save_path=folder, layer=1)
    >>> wav = torch.randn(2, 16000)
    >>> feats = teacher(wav, torch.tensor([1.0, 0.5]))
    >>> feats.shape
    torch.Size([2, 50, 32])
    >>> feats[1, 25:].abs().sum().item()
    0.0
    >>> teacher.num_layers, teacher.output_size
    (3, 32)
    """

    def __init__(
        self,
        source,
        save_path="pretrained_models/ssl_teacher",
        layer=None,
        sample_rate=16000,
        hop_length=320,
        per_utterance=None,
        drop_unused_layers=True,
    ):
        super().__init__()
        self.source = str(source)
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        wrapper = _frozen_ssl_class()(
            source=self.source,
            save_path=str(save_path),
            freeze=True,
            output_all_hiddens=True,
        )
        self.model = wrapper.model
        self.config = self.model.config
        self.normalize_input = bool(wrapper.normalize_wav)
        self.teacher_sample_rate = int(
            getattr(wrapper.feature_extractor, "sampling_rate", None) or 16000
        )
        # hidden states 0..L
        self.num_layers = self.config.num_hidden_layers + 1

        if layer is None:
            self.layers = list(range(self.num_layers))
        elif isinstance(layer, int):
            self.layers = [layer]
        else:
            self.layers = [int(i) for i in layer]
        self.layers = [i % self.num_layers if i < 0 else i for i in self.layers]
        if any(i < 0 or i >= self.num_layers for i in self.layers):
            raise ValueError(f"layer {layer} out of range: the model has {self.num_layers}")
        self.squeeze_layer = isinstance(layer, int)

        encoder_layers = getattr(getattr(self.model, "encoder", None), "layers", None)
        if drop_unused_layers and encoder_layers is not None:
            # Keep one layer above the highest requested one, so that the requested state is
            # never the encoder's last (whose meaning depends on the transformers version).
            keep = min(max(self.layers) + 1, self.config.num_hidden_layers)
            self.model.encoder.layers = encoder_layers[:keep]

        if per_utterance is None:
            per_utterance = getattr(self.config, "feat_extract_norm", "layer") == "group"
        self.per_utterance = bool(per_utterance)

        # total stride and receptive field of the conv feature extractor (teacher samples)
        self.teacher_stride = math.prod(self.config.conv_stride)
        field = 1
        for kernel, stride in reversed(list(zip(self.config.conv_kernel, self.config.conv_stride))):
            field = (field - 1) * stride + kernel
        self.receptive_field = field

        self.model.eval()
        for param in self.model.parameters():
            param.requires_grad = False
        self._fingerprint = None

    @property
    def output_size(self):
        """Feature dimension of one hidden state."""
        return self.config.hidden_size

    @property
    def fingerprint(self):
        """A short hash of what determines the output: model config and weights, layers, rates.

        Two teachers with the same fingerprint give the same features (wherever the model was
        loaded from); it keys the :class:`~unicodec.data.teacher_cache.TeacherCache` folder.
        """
        if self._fingerprint is None:
            digest = hashlib.sha1()
            digest.update(
                json.dumps(
                    {
                        "config": self.config.to_dict(),
                        "layers": self.layers,
                        "squeeze": self.squeeze_layer,
                        "sample_rate": self.sample_rate,
                        "hop_length": self.hop_length,
                        "normalize_input": self.normalize_input,
                        "teacher_sample_rate": self.teacher_sample_rate,
                    },
                    sort_keys=True,
                    default=str,
                ).encode()
            )
            with torch.no_grad():
                for name, param in self.model.state_dict().items():
                    param = param.detach().double()
                    digest.update(name.encode())
                    stats = f"{param.sum().item():.10e} {param.abs().sum().item():.10e}"
                    digest.update(stats.encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def train(self, mode=True):
        """Keeps the teacher in eval mode whatever is asked."""
        super().train(mode)
        self.model.eval()
        return self

    def num_frames(self, num_samples):
        """Number of S frames for ``num_samples`` samples (int or long tensor)."""
        if torch.is_tensor(num_samples):
            return torch.div(
                num_samples + self.hop_length - 1, self.hop_length, rounding_mode="floor"
            )
        return -(-int(num_samples) // self.hop_length)

    @torch.no_grad()
    def forward(self, wav, wav_lens=None):
        """Teacher features aligned to the S frames.

        Arguments
        ---------
        wav : torch.Tensor
            ``[B, T]`` waveforms at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            ``[B]`` relative lengths in (0, 1].

        Returns
        -------
        torch.Tensor
            ``[B, ceil(T / hop_length), D]`` for an int ``layer``, else
            ``[B, ceil(T / hop_length), num_selected_layers, D]``; zero past each utterance's
            last frame (``ceil(n / hop_length)`` frames for ``n`` valid samples).
        """
        param = next(self.model.parameters())
        if param.device != wav.device:
            self.model.to(wav.device)
        wav = wav.to(param.dtype)
        batch, num_samples = wav.shape
        lengths = _relative_to_samples(wav_lens, num_samples)
        if lengths is None:
            lengths = torch.full((batch,), num_samples, dtype=torch.long, device=wav.device)
        lengths = lengths.to(wav.device)
        target_frames = self.num_frames(lengths)
        total_frames = self.num_frames(num_samples)

        # zero the padding, go to the teacher's rate
        wav = wav * (torch.arange(num_samples, device=wav.device) < lengths[:, None])
        if self.teacher_sample_rate != self.sample_rate:
            import torchaudio.functional as AF

            wav = AF.resample(wav, self.sample_rate, self.teacher_sample_rate)
            lengths = torch.ceil(lengths * self.teacher_sample_rate / self.sample_rate).long()
            lengths = lengths.clamp(1, wav.shape[1])
        # inputs shorter than the receptive field are zero-padded up to it
        lengths = lengths.clamp(min=self.receptive_field)
        if wav.shape[1] < self.receptive_field:
            wav = F.pad(wav, (0, self.receptive_field - wav.shape[1]))
        if self.normalize_input:
            wav = self._normalize(wav, lengths)

        if self.per_utterance:
            states = [self._hidden_states(wav[i : i + 1, : lengths[i]]) for i in range(batch)]
            max_frames = max(s.shape[1] for s in states)
            states = torch.cat([F.pad(s, (0, 0, 0, 0, 0, max_frames - s.shape[1])) for s in states])
        else:
            mask = torch.arange(wav.shape[1], device=wav.device) < lengths[:, None]
            states = self._hidden_states(wav, mask.long())
        teacher_frames = self.model._get_feat_extract_output_lengths(lengths).long().clamp(min=1)

        # [B, Tt, L, D] -> [B, Ts, L, D]
        teacher_rate = self.teacher_sample_rate / self.teacher_stride
        s_rate = self.sample_rate / self.hop_length
        feats = align_frames(states, teacher_frames, total_frames, teacher_rate / s_rate)
        valid = torch.arange(total_frames, device=wav.device) < target_frames[:, None]
        feats = feats * valid[:, :, None, None].to(feats.dtype)
        if self.squeeze_layer:
            feats = feats[:, :, 0]
        return feats

    def _normalize(self, wav, lengths):
        """Zero mean, unit variance over each utterance's valid samples; padding stays 0."""
        mask = (torch.arange(wav.shape[1], device=wav.device) < lengths[:, None]).to(wav.dtype)
        count = lengths.to(wav.dtype)[:, None]
        mean = (wav * mask).sum(1, keepdim=True) / count
        var = (((wav - mean) * mask) ** 2).sum(1, keepdim=True) / count
        return (wav - mean) / torch.sqrt(var + _NORM_EPS) * mask

    def _hidden_states(self, wav, attention_mask=None):
        """The selected hidden states ``[B, Tt, L, D]`` of the model."""
        with warnings.catch_warnings():
            # WavLM's attention mixes a bool padding mask with a float position bias
            warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")
            out = self.model(wav, attention_mask=attention_mask, output_hidden_states=True)
        return torch.stack([out.hidden_states[i] for i in self.layers], dim=2)


def align_frames(feats, src_lengths, num_frames, rate_ratio=1.0):
    """Resamples frame sequences along time to another frame rate.

    Output frame ``t`` (centre at ``t + 0.5`` output periods) reads the source at position
    ``(t + 0.5) * rate_ratio - 0.5`` source frames, linearly interpolated and clamped to each
    sequence's valid frames, so equal rates copy frames and repeat the last valid one.

    Arguments
    ---------
    feats : torch.Tensor
        ``[B, Tsrc, ...]`` source frames.
    src_lengths : torch.Tensor
        ``[B]`` number of valid source frames (at least 1).
    num_frames : int
        Number of output frames.
    rate_ratio : float
        Source frame rate divided by output frame rate.

    Returns
    -------
    torch.Tensor
        ``[B, num_frames, ...]``.

    Example
    -------
    >>> x = torch.arange(4.0).view(1, 4, 1)
    >>> align_frames(x, torch.tensor([3]), 5)[0, :, 0]
    tensor([0., 1., 2., 2., 2.])
    >>> align_frames(x, torch.tensor([4]), 2, rate_ratio=2.0)[0, :, 0]
    tensor([0.5000, 2.5000])
    """
    batch = feats.shape[0]
    device = feats.device
    pos = (torch.arange(num_frames, device=device, dtype=torch.float64) + 0.5) * rate_ratio - 0.5
    last = (src_lengths.to(device) - 1).clamp(min=0).double()[:, None]
    pos = torch.minimum(pos[None, :].clamp(min=0.0).expand(batch, -1), last)
    low = pos.floor().long()
    high = torch.minimum(low + 1, last.long())
    weight = (pos - low.double()).to(feats.dtype)
    extra = feats.shape[2:]

    def gather(index):
        index = index.view(batch, num_frames, *([1] * len(extra))).expand(batch, num_frames, *extra)
        return torch.gather(feats, 1, index)

    weight = weight.view(batch, num_frames, *([1] * len(extra)))
    return gather(low) * (1 - weight) + gather(high) * weight


class WeightedLayerSum(nn.Module):
    """A learnable softmax-weighted sum over stacked teacher layers.

    The weights start equal (zeros before the softmax), as in SpeechBrain's
    ``WeightedSSLModel``. Being trainable, it belongs in the Brain's ``modules``.

    Arguments
    ---------
    num_layers : int
        Number of stacked layers.
    layer_norm : bool
        Normalise each layer over features (no affine) before the sum; zero frames stay zero.

    Example
    -------
    >>> layers = torch.randn(2, 50, 4, 32)
    >>> weighted = WeightedLayerSum(num_layers=4)
    >>> weighted(layers).shape
    torch.Size([2, 50, 32])
    >>> torch.allclose(weighted(layers), layers.mean(dim=2), atol=1e-6)
    True
    """

    def __init__(self, num_layers, layer_norm=False):
        super().__init__()
        self.layer_norm = layer_norm
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, layers):
        """Weighted sum of ``layers`` ``[B, T, L, D]``; returns ``[B, T, D]``."""
        if layers.shape[-2] != self.weights.shape[0]:
            raise ValueError(f"expected {self.weights.shape[0]} layers, got {layers.shape[-2]}")
        if self.layer_norm:
            layers = F.layer_norm(layers, layers.shape[-1:])
        weights = torch.softmax(self.weights, dim=0).to(layers.dtype)
        return torch.einsum("btld,l->btd", layers, weights)
