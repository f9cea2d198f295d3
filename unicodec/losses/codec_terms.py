"""The codec recipe's loss terms: their names, the module each needs, their weights, and
the terms of one codec output (reconstruction, commitment, pitch, distillation or phones
for S, and the disentanglement heads on S, P and G). The adversarial terms need the
discriminator step and stay with the recipe.

Authors
 * UniCodec authors 2026
"""

import torch

from unicodec.lengths import count_to_relative

TERM_MODULES = {
    "mel": None,
    "stft": None,
    "commitment": None,
    "adversarial": "discriminators",
    "feature_matching": "discriminators",
    "distillation": "distillation",
    "phone": "phone_classifier",
    "speaker_adversary": "speaker_adversary",
    "mutual_information": "club",
    "club_fit": "club",
    "decorrelation": "decorrelation",
    "speaker_global": "speaker_classifier",
    "prosody": "prosody_regression",
    "pitch": None,  # a source-filter decoder's pitch prediction, when the codec has one
}
"""The generator's loss terms and the module each needs (None: always computed);
``loss_weights`` may weigh these alone."""


def check_loss_weights(weights):
    """Raises ValueError naming any key of ``loss_weights`` that is no training term (a
    misspelt one would otherwise leave its term at weight 1.0).

    Example
    -------
    >>> check_loss_weights({"mel": 15.0, "pitch": 1.0})
    >>> check_loss_weights({"mell": 15.0})
    Traceback (most recent call last):
    ...
    ValueError: loss_weights: unknown term(s) 'mell'; the terms are adversarial, ...
    """
    unknown = sorted(set(weights) - set(TERM_MODULES))
    if unknown:
        raise ValueError(
            f"loss_weights: unknown term(s) {', '.join(repr(u) for u in unknown)}; the "
            f"terms are {', '.join(sorted(TERM_MODULES))}"
        )


def weighted_sum(terms, weights):
    """``sum(weights.get(name, 1) * term)`` over the terms."""
    return sum(weights.get(name, 1.0) * value for name, value in terms.items())


def _unwrap(module):
    return getattr(module, "module", module)


def codec_terms(out, wav, lens, hparams, modules, phones=None, speakers=None,
                teacher_targets=None):
    """Every non-adversarial generator term of a codec output, unweighted, by name.

    Arguments
    ---------
    out : CodecOutput
        The codec's output on ``wav``.
    wav, lens : torch.Tensor
        ``[B, T]`` the audio rebuilt and its relative lengths.
    hparams
        Has ``mel_loss``, ``stft_loss``, ``pitch_loss`` and (with ``prosody_regression``)
        ``prosody_targets``.
    modules
        The trained heads by name (a term is computed when its module is there).
    phones : torch.Tensor, optional
        ``[B, Ts]`` frame phone ids (the ``phone`` term).
    speakers : torch.Tensor, optional
        ``[B]`` speaker classes, given only when some are labelled (the speaker terms).
    teacher_targets : callable, optional
        ``num_frames -> [B, num_frames, D]`` the teacher's targets (``distillation``).
    """
    q = out.quantized
    s_lens = count_to_relative(q.semantic_mask.sum(1), q.semantic_mask.shape[1])
    p_lens = count_to_relative(q.paralinguistic_mask.sum(1), q.paralinguistic_mask.shape[1])
    terms = {
        "mel": hparams.mel_loss(out.wav, wav, lens),
        "stft": hparams.stft_loss(out.wav, wav, lens),
        "commitment": sum(q.losses.values()),
    }
    if out.pitch is not None and out.prosody is not None:
        terms["pitch"] = hparams.pitch_loss(out.pitch, out.prosody, s_lens)
    if "distillation" in modules and teacher_targets is not None:
        targets = teacher_targets(q.semantic.shape[1])
        terms["distillation"] = modules["distillation"](q.semantic, targets, s_lens)
    if "phone_classifier" in modules and phones is not None:
        phones = phones[:, : q.semantic.shape[1]]
        terms["phone"] = modules["phone_classifier"](q.semantic, phones, s_lens)
    if "speaker_adversary" in modules and speakers is not None:
        terms["speaker_adversary"] = modules["speaker_adversary"](q.semantic, speakers, s_lens)
    if "club" in modules:
        terms["mutual_information"] = modules["club"](q.semantic, q.paralinguistic, s_lens)
        terms["club_fit"] = _unwrap(modules["club"]).learning_loss(
            q.semantic, q.paralinguistic, s_lens
        )
    if "decorrelation" in modules:
        terms["decorrelation"] = modules["decorrelation"](q.semantic, q.paralinguistic, s_lens)
    if "speaker_classifier" in modules and speakers is not None:
        terms["speaker_global"] = modules["speaker_classifier"](q.global_vector, speakers)
    if "prosody_regression" in modules:
        with torch.no_grad():
            log_f0, voiced, log_energy = hparams.prosody_targets(wav, lens)
        length = q.paralinguistic.shape[1]
        terms["prosody"] = modules["prosody_regression"](
            q.paralinguistic, log_f0[:, :length], voiced[:, :length],
            log_energy[:, :length], p_lens,
        )
    return terms
