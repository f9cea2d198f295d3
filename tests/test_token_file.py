"""Token files: exact round trip, size close to bitrate x duration, clear errors."""

import os
import re
import struct
import zlib

import numpy as np
import pytest
import torch

from conftest import build_tiny_codec, speechlike
from test_inference import tiny_model
from unicodec.inference import UniCodecInterface
from unicodec.token_file import (
    HEADER_SIZE,
    TokenFileError,
    _pack,
    _unpack,
    bits_per_code,
    load_tokens,
    model_fingerprint,
    model_info,
    read_header,
    save_tokens,
)
from unicodec.tokens import Tokens

FIELDS = ("global_tokens", "semantic_tokens", "paralinguistic_tokens", "num_samples")


def synthetic_info(sizes=(64, 256, 256), counts=(2, 1, 2), fingerprint="0123456789abcdef"):
    names = ("global", "semantic", "paralinguistic")
    return {"fingerprint": fingerprint, "sample_rate": 16000, "hop_length": 320,
            "paralinguistic_stride": 2, "codebook_sizes": dict(zip(names, sizes)),
            "num_codebooks": dict(zip(names, counts))}


def random_tokens(num_samples, sizes=(64, 256, 256), counts=(2, 1, 2), seed=0):
    gen = torch.Generator().manual_seed(seed)
    num_p = -(-num_samples // 640)
    semantic = torch.randint(sizes[1], (1, 2 * num_p, counts[1]), generator=gen)
    semantic[:, -(-num_samples // 320):] = 0  # frames beyond the audio, as encode() gives
    return Tokens(
        torch.randint(sizes[0], (1, counts[0]), generator=gen),
        semantic,
        torch.randint(sizes[2], (1, num_p, counts[2]), generator=gen),
        torch.tensor([num_samples]),
    )


def rewrite(path, offset, fmt, value, fix_crc=True):
    """Patches a header field (and the checksum, so that only the patched field is off)."""
    data = bytearray(open(path, "rb").read())
    struct.pack_into(fmt, data, offset, value)
    if fix_crc:
        crc = zlib.crc32(bytes(data[HEADER_SIZE:]), zlib.crc32(bytes(data[:HEADER_SIZE - 4])))
        struct.pack_into("<I", data, HEADER_SIZE - 4, crc)
    open(path, "wb").write(bytes(data))


@pytest.fixture(scope="module")
def interface():
    return UniCodecInterface.from_codec(tiny_model(), device="cpu")


def test_round_trip_is_exact_and_size_follows_the_bitrate(interface, tmp_path):
    seconds = 3.0
    wav = speechlike(int(seconds * 16000), seed=1)
    for num_p in (None, 1):
        tokens = interface.encode_batch(wav, num_paralinguistic=num_p)
        path = tmp_path / f"utt{num_p}.uct"
        interface.save_tokens(path, tokens)
        loaded, info = interface.load_tokens(path)
        for field in FIELDS:
            assert torch.equal(getattr(loaded, field), getattr(tokens, field)), field
            assert getattr(loaded, field).dtype == torch.long
        size = os.path.getsize(path)
        expected = interface.bitrate_for(seconds, num_paralinguistic=num_p) * seconds / 8
        assert abs(size - HEADER_SIZE - expected) <= 0.05 * expected, (size, expected)
        assert info["duration"] == seconds
        assert info["num_codebooks"]["paralinguistic"] == (num_p or 2)
        assert info["file_bytes"] == size
        # and the tokens decode to the same waveform
        torch.testing.assert_close(interface.decode_file(path),
                                   interface.decode_batch(tokens)[0])


def test_round_trip_of_codebook_sizes_that_are_not_powers_of_two(tmp_path):
    sizes = (5, 1000, 3)
    info = synthetic_info(sizes=sizes, counts=(3, 2, 4))
    tokens = random_tokens(16000 * 2 + 17, sizes=sizes, counts=(3, 2, 4))
    save_tokens(tmp_path / "t.uct", tokens, info)
    loaded, header = load_tokens(tmp_path / "t.uct", expected_model_info=info)
    for field in FIELDS:
        assert torch.equal(getattr(loaded, field), getattr(tokens, field)), field
    assert header["bits_per_code"] == {"global": 3, "semantic": 10, "paralinguistic": 2}
    bits = 3 * 3 + 101 * 2 * 10 + 51 * 4 * 2  # ceil(32017 / 320), ceil(32017 / 640)
    assert header["payload_bits"] == bits
    assert os.path.getsize(tmp_path / "t.uct") == HEADER_SIZE + -(-bits // 8)


def test_bit_packing_is_msb_first_and_vectorised():
    codes = np.array([5, 0, 7, 2], dtype=np.int64)
    # 101 000 111 010 -> 1010 0011 1010 (+ 4 zero bits)
    assert _pack([(codes, 3)]) == bytes([0b10100011, 0b10100000])
    gen = np.random.default_rng(0)
    streams = [(gen.integers(0, 2 ** w, size=n), w) for n, w in [(3, 1), (1000, 10), (77, 16)]]
    payload = _pack(streams)
    assert len(payload) == -(-(3 + 10000 + 77 * 16) // 8)
    for (codes, _), out in zip(streams, _unpack(payload, [(len(c), w) for c, w in streams])):
        assert np.array_equal(codes, out)
    assert [bits_per_code(s) for s in (1, 2, 3, 64, 65, 1024)] == [1, 1, 2, 6, 7, 10]


def test_corrupt_files_give_clear_errors_naming_the_file(tmp_path):
    info = synthetic_info()
    good = tmp_path / "good.uct"
    save_tokens(good, random_tokens(16000), info)
    data = open(good, "rb").read()

    def bad(name, content):
        path = tmp_path / name
        open(path, "wb").write(content)
        return path

    cases = [
        (bad("truncated.uct", data[:-3]), "truncated token file"),
        (bad("header_only.uct", data[:40]), "truncated token file"),
        (bad("empty.uct", b""), "truncated token file"),
        (bad("trailing.uct", data + b"\0"), "corrupt token file"),
        (bad("flipped.uct", data[:-5] + bytes([data[-5] ^ 0x10]) + data[-4:]),
         "checksum mismatch"),
        (bad("magic.uct", b"RIFF" + data[4:]), "not a UniCodec token file"),
        (bad("text.uct", b"hello world, not tokens at all" * 3), "not a UniCodec token file"),
    ]
    version = bad("version.uct", data)
    rewrite(version, 4, "<H", 7)
    cases.append((version, "unsupported token file version 7"))
    frames = bad("frames.uct", data)
    rewrite(frames, 49, "<I", 49)  # 16000 samples make 50 S frames
    cases.append((frames, "inconsistent header fields"))
    for path, message in cases:
        with pytest.raises(TokenFileError) as error:
            load_tokens(path)
        assert str(path) in str(error.value) and message in str(error.value), str(error.value)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "missing.uct"))):
        load_tokens(tmp_path / "missing.uct")


def test_out_of_range_codes_are_refused_at_save_and_at_load(tmp_path):
    info = synthetic_info(sizes=(64, 1000, 256))
    tokens = random_tokens(8000, sizes=(64, 1000, 256))
    for stream, value in (("semantic_tokens", 1000), ("paralinguistic_tokens", -1)):
        bad = Tokens(**{f: getattr(tokens, f).clone() for f in FIELDS})
        getattr(bad, stream)[0, 3, 0] = value
        with pytest.raises(TokenFileError, match=rf"bad\.uct: 1 {stream.split('_')[0]} codes "
                           rf"lie outside \[0, (1000|256)\)"):
            save_tokens(tmp_path / "bad.uct", bad, info)
    assert not os.path.exists(tmp_path / "bad.uct")
    # 1000 codes take 10 bits: a file that says its codebook has 600 codes holds codes
    # beyond it
    path = tmp_path / "range.uct"
    save_tokens(path, Tokens(tokens.global_tokens, tokens.semantic_tokens.clamp(min=700),
                             tokens.paralinguistic_tokens, tokens.num_samples), info)
    rewrite(path, 33, "<I", 600)
    with pytest.raises(TokenFileError, match=r"range\.uct: \d+ semantic codes lie outside "
                       r"\[0, 600\)"):
        load_tokens(path)


def test_tokens_that_do_not_fit_the_model_are_refused_at_save(tmp_path):
    info = synthetic_info()
    path = tmp_path / "x.uct"
    two = random_tokens(8000)
    batch = Tokens(*(torch.cat([getattr(two, f)] * 2) for f in FIELDS))
    with pytest.raises(TokenFileError, match="x.uct: a token file holds one utterance"):
        save_tokens(path, batch, info)
    short = Tokens(two.global_tokens, two.semantic_tokens[:, :10], two.paralinguistic_tokens,
                   two.num_samples)
    with pytest.raises(TokenFileError, match="semantic tokens hold 10 frames, 8000 samples "
                       "need 25"):
        save_tokens(path, short, info)
    three = Tokens(two.global_tokens, two.semantic_tokens,
                   two.paralinguistic_tokens.repeat(1, 1, 2), two.num_samples)
    with pytest.raises(TokenFileError, match="paralinguistic tokens have 4 codebooks"):
        save_tokens(path, three, info)


def test_fingerprint_tells_models_apart(interface, tmp_path):
    codec = interface.codec
    copy = build_tiny_codec()
    copy.load_state_dict(codec.state_dict())
    copy.quantizer.semantic_quantizer.step += 5  # training counters do not count
    assert model_fingerprint(copy) == model_fingerprint(codec)
    torch.manual_seed(1)
    other = build_tiny_codec().eval()
    assert model_fingerprint(other) != model_fingerprint(codec)
    path = tmp_path / "utt.uct"
    interface.save_tokens(path, interface.encode_batch(speechlike(8000, 2)))
    header, _ = read_header(path)
    assert header["fingerprint"] == model_fingerprint(codec)
    other_interface = UniCodecInterface.from_codec(other)
    with pytest.raises(TokenFileError, match=r"utt\.uct: token file from another model"):
        other_interface.decode_file(path)
    with pytest.raises(TokenFileError, match="another model"):
        load_tokens(path, expected_model_info=model_info(other))
    tokens, _ = load_tokens(path)  # without a model to check against, it still reads
    assert tokens.num_samples.tolist() == [8000]
