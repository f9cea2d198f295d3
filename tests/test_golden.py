"""The same checkpoint gives the same tokens and audio, whatever the code moves around.

``tests/data/golden_codec.pt`` holds a tiny codec of the shipped structure (G's and P's
pitch tokens, the source-filter decoder; briefly trained, so its codebooks are not the
initial ones), a test signal's tokens and the audio decoded from them, written by
``python tests/test_golden.py --write`` when the model *should* change.
"""

import os
import sys

import torch
from hyperpyyaml import load_hyperpyyaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import speechlike  # noqa: E402
from test_learning import PITCH_MODEL_YAML  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "golden_codec.pt")


def signal():
    return torch.stack([speechlike(16000, 11), speechlike(16000, 12) * 0.5])


def run(codec):
    codec.eval()
    with torch.no_grad():
        tokens = codec.encode(signal(), torch.tensor([1.0, 0.75]))
        audio = codec.decode(tokens)
    return tokens, audio


def write():
    from test_learning import _train_pitch_codec

    codec = _train_pitch_codec(steps=20)[0]
    tokens, audio = run(codec)
    torch.save({"state_dict": codec.state_dict(), "global": tokens.global_tokens,
                "semantic": tokens.semantic_tokens, "paralinguistic": tokens.paralinguistic_tokens,
                "audio": audio.half()}, GOLDEN)


def test_the_golden_checkpoint_gives_the_same_tokens_and_audio():
    golden = torch.load(GOLDEN)
    torch.manual_seed(0)
    codec = load_hyperpyyaml(PITCH_MODEL_YAML)["codec"]
    codec.load_state_dict(golden["state_dict"])
    tokens, audio = run(codec)
    assert torch.equal(tokens.global_tokens, golden["global"])
    for name, got in (("semantic", tokens.semantic_tokens),
                      ("paralinguistic", tokens.paralinguistic_tokens)):
        agree = (got == golden[name]).float().mean()
        assert agree > 0.98, f"{name} tokens changed: {float(agree):.3f} agree"
    if all(torch.equal(a, golden[n]) for a, n in ((tokens.semantic_tokens, "semantic"),
                                                  (tokens.paralinguistic_tokens, "paralinguistic"))):
        error = (audio - golden["audio"].float()).abs().max()
        assert error < 2e-3 * max(float(golden["audio"].float().abs().max()), 1e-3), float(error)


def test_a_padded_batch_has_the_pitch_of_each_utterance_alone():
    """Padded P frames are zeros and the pitch contour holds its last value: the pitch of
    a shorter utterance in a batch is the one it has decoded alone (its last frames were
    pulled toward the lowest pitch level before)."""
    golden = torch.load(GOLDEN)
    codec = load_hyperpyyaml(PITCH_MODEL_YAML)["codec"].eval()
    codec.load_state_dict(golden["state_dict"])

    def pitch(tokens):
        from unicodec.lengths import frame_mask, frames_for_samples

        g, s, p = codec.quantizer.dequantize(
            tokens.global_tokens, tokens.semantic_tokens, tokens.paralinguistic_tokens)
        frames = frames_for_samples(tokens.num_samples, codec.hop_length)
        mask = frame_mask(frames, s.shape[1])
        stride = codec.quantizer.paralinguistic_stride
        p = p * frame_mask((frames + stride - 1) // stride, p.shape[1]).unsqueeze(-1)
        return codec.decoder.decode(s, p, g, mask)[1][..., 0]

    with torch.no_grad():
        batch = pitch(codec.encode(signal(), torch.tensor([1.0, 0.75])))
        alone = pitch(codec.encode(signal()[1:, :12000]))
    n = alone.shape[1]
    assert torch.allclose(batch[1, :n], alone[0], atol=1e-4), float((batch[1, :n] - alone[0]).abs().max())


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
        print(f"wrote {GOLDEN}")
