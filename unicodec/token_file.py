"""Token files: the tokens of one utterance, bit-packed, with a small header.

A token file holds what :meth:`UniCodec.encode` gives for one utterance, at
``ceil(log2(codebook size))`` bits per code, so its size is about the codec's bitrate
times the duration plus a 65-byte header. All integers are little-endian:

====== ==== ====================== ===================================================
offset size field                  meaning
====== ==== ====================== ===================================================
0      4    magic                  ``b"UCTK"``
4      2    version                format version (1)
6      2    header_size            bytes before the payload (65 in version 1)
8      8    fingerprint            the model fingerprint (see :func:`model_fingerprint`)
16     4    sample_rate            Hz
20     4    hop_length             samples per semantic (S) frame
24     2    paralinguistic_stride  S frames per paralinguistic (P) frame
26     1    num_global             G codebooks ``Kg``
27     1    num_semantic           S codebooks ``Ks``
28     1    num_paralinguistic     P codebooks ``Kp`` (may be fewer than the model has)
29     4    global_size            G codebook size
33     4    semantic_size          S codebook size
37     4    paralinguistic_size    P codebook size
41     8    num_samples            length of the encoded waveform
49     4    semantic_frames        ``Ts = ceil(num_samples / hop_length)``
53     4    paralinguistic_frames  ``Tp = ceil(num_samples / (hop_length * stride))``
57     4    payload_bytes          ``ceil(bits / 8)``
61     4    crc32                  CRC-32 of bytes 0-60 and of the payload
====== ==== ====================== ===================================================

The payload is the G codes (``Kg``), then the S codes (``Ts x Ks``, frame-major), then
the P codes (``Tp x Kp``), each written most significant bit first with
``max(1, ceil(log2(size)))`` bits, padded with zero bits to a whole byte. Only valid
frames are stored; on loading, S is zero-padded to ``Tp * stride`` frames, the layout
:meth:`UniCodec.encode` gives for a single file, so a round trip is exact.

The model fingerprint is the first 8 bytes of a SHA-256 over the token layout (sample
rate, hop, stride, codebook counts and sizes) and over the tensors that give the codes
their meaning: the quantizer's codebooks, projections and P pooling (float32 bytes, in
``state_dict`` order; the EMA statistics and step counters are left out). Two trainings
of the same architecture get different fingerprints; copies of one model, on any
device, get the same one.

Example
-------
>>> import tempfile, os, torch
>>> from unicodec.tokens import Tokens
>>> info = {"fingerprint": "00112233aabbccdd", "sample_rate": 16000, "hop_length": 320,
...         "paralinguistic_stride": 2,
...         "codebook_sizes": {"global": 64, "semantic": 256, "paralinguistic": 256},
...         "num_codebooks": {"global": 2, "semantic": 1, "paralinguistic": 2}}
>>> tokens = Tokens(torch.tensor([[3, 60]]), torch.randint(256, (1, 50, 1)),
...                 torch.randint(256, (1, 25, 2)), torch.tensor([16000]))
>>> path = os.path.join(tempfile.mkdtemp(), "utt.uct")
>>> save_tokens(path, tokens, info)
>>> os.path.getsize(path)  # 65-byte header + (2 x 6 + 50 x 8 + 25 x 2 x 8) bits
167
>>> loaded, header = load_tokens(path, expected_model_info=info)
>>> torch.equal(loaded.semantic_tokens, tokens.semantic_tokens)
True
>>> header["duration"], header["fingerprint"]
(1.0, '00112233aabbccdd')
"""

import hashlib
import math
import os
import struct
import zlib

import numpy as np
import torch

from unicodec.tokens import Tokens

MAGIC = b"UCTK"
FORMAT_VERSION = 1
SUFFIX = ".uct"
_HEADER = struct.Struct("<4sHH8sIIH3B3IQ4I")
HEADER_SIZE = _HEADER.size  # 65
STREAMS = ("global", "semantic", "paralinguistic")
# Buffers that only hold training statistics: they do not change what a code means.
_STATISTICS = ("embed_sum", "cluster_size", "step")


class TokenFileError(ValueError):
    """A token file that cannot be read or does not fit the model (names the file).

    Example
    -------
    >>> issubclass(TokenFileError, ValueError)
    True
    """


def bits_per_code(codebook_size):
    """Bits used for one code of a codebook: ``max(1, ceil(log2(codebook_size)))``.

    Example
    -------
    >>> bits_per_code(1024), bits_per_code(1000), bits_per_code(2), bits_per_code(1)
    (10, 10, 1, 1)
    """
    if codebook_size < 1:
        raise ValueError(f"codebook size must be >= 1, got {codebook_size}")
    return max(1, (int(codebook_size) - 1).bit_length())


def model_fingerprint(codec):
    """A short hex digest identifying a codec's token layout and codebooks.

    Arguments
    ---------
    codec : UniCodec
        The model.

    Returns
    -------
    str
        16 hex characters (the first 8 bytes of a SHA-256).

    Example
    -------
    >>> import torch
    >>> from unicodec.lobes.quantizers import ResidualVectorQuantizer as RVQ
    >>> from unicodec.lobes.multiscale_quantizer import MultiScaleQuantizer
    >>> class Codec(torch.nn.Module):  # the attributes the fingerprint reads
    ...     sample_rate, hop_length = 16000, 320
    ...     def __init__(self, size):
    ...         super().__init__()
    ...         self.quantizer = MultiScaleQuantizer(RVQ(4, 1, codebook_size=4),
    ...             RVQ(8, 1, codebook_size=size), RVQ(8, 1, codebook_size=8), frame_dim=8)
    ...     def codebook_sizes(self): return self.quantizer.codebook_sizes()
    ...     def num_codebooks(self): return self.quantizer.num_codebooks()
    >>> _ = torch.manual_seed(0)
    >>> a = Codec(8)
    >>> len(model_fingerprint(a)), model_fingerprint(a) == model_fingerprint(a)
    (16, True)
    >>> model_fingerprint(a) == model_fingerprint(Codec(8))  # other codebooks
    False
    """
    digest = hashlib.sha256()
    layout = _layout(codec)
    digest.update(repr(sorted(layout.items())).encode())
    if getattr(codec, "speech_level", None) is not None:  # what its codes mean: no weights
        digest.update(repr(sorted(codec.speech_level.settings().items())).encode())
    for name, tensor in codec.quantizer.state_dict().items():
        if name.rsplit(".", 1)[-1] in _STATISTICS or not tensor.is_floating_point():
            continue
        data = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
        digest.update(f"{name}:{tuple(data.shape)}".encode())
        digest.update(data.tobytes())
    return digest.hexdigest()[:16]


def _layout(codec):
    sizes, counts = codec.codebook_sizes(), codec.num_codebooks()
    return {
        "sample_rate": int(codec.sample_rate),
        "hop_length": int(codec.hop_length),
        "paralinguistic_stride": int(codec.quantizer.paralinguistic_stride),
        "codebook_sizes": {k: int(sizes[k]) for k in STREAMS},
        "num_codebooks": {k: int(counts[k]) for k in STREAMS},
    }


def model_info(codec):
    """What a token file needs to know about the model that made its tokens.

    Returns
    -------
    dict
        ``fingerprint`` (see :func:`model_fingerprint`), ``sample_rate``,
        ``hop_length``, ``paralinguistic_stride``, ``codebook_sizes`` and
        ``num_codebooks`` (dicts keyed by ``global``, ``semantic``, ``paralinguistic``).
    """
    info = _layout(codec)
    info["fingerprint"] = model_fingerprint(codec)
    return info


def _frame_counts(num_samples, hop_length, stride):
    return math.ceil(num_samples / hop_length), math.ceil(num_samples / (hop_length * stride))


def _check_range(codes, size, stream, path):
    if codes.size and (codes.min() < 0 or codes.max() >= size):
        bad = int(((codes < 0) | (codes >= size)).sum())
        raise TokenFileError(
            f"{path}: {bad} {stream} codes lie outside [0, {size}) "
            f"(values in [{int(codes.min())}, {int(codes.max())}])"
        )


def _pack(streams):
    """Bit-packs ``[(codes, width), ...]`` (1-D int64 arrays), MSB first."""
    bits = []
    for codes, width in streams:
        shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
        bits.append(((codes[:, None] >> shifts) & 1).astype(np.uint8).reshape(-1))
    return np.packbits(np.concatenate(bits)).tobytes()


def _unpack(payload, streams):
    """Inverse of :func:`_pack` for ``[(count, width), ...]``; returns int64 arrays."""
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    out, offset = [], 0
    for count, width in streams:
        chunk = bits[offset:offset + count * width].reshape(count, width).astype(np.int64)
        out.append(chunk @ (np.int64(1) << np.arange(width - 1, -1, -1, dtype=np.int64)))
        offset += count * width
    return out


def save_tokens(path, tokens, model_info):
    """Writes the tokens of one utterance to a token file.

    Arguments
    ---------
    path : str or os.PathLike
        File to write (conventionally with the ``.uct`` suffix).
    tokens : Tokens
        Tokens of a single utterance (batch size 1), as :meth:`UniCodec.encode` gives
        them; frames beyond ``num_samples`` are not stored.
    model_info : dict
        The model's :func:`model_info`.

    Raises
    ------
    TokenFileError
        Naming ``path``, if the tokens do not fit the model (layout, too few frames,
        codes outside their codebook).
    """
    path = os.fspath(path)
    if not isinstance(tokens, Tokens):
        raise TypeError(f"{path}: expected Tokens, got {type(tokens).__name__}")
    if tokens.batch_size != 1:
        raise TokenFileError(
            f"{path}: a token file holds one utterance, got a batch of {tokens.batch_size} "
            "(save each with tokens[i])"
        )
    sizes, counts = model_info["codebook_sizes"], model_info["num_codebooks"]
    hop, stride = int(model_info["hop_length"]), int(model_info["paralinguistic_stride"])
    num_samples = int(tokens.num_samples[0])
    if num_samples < 1:
        raise TokenFileError(f"{path}: num_samples must be >= 1, got {num_samples}")
    num_s, num_p = _frame_counts(num_samples, hop, stride)
    arrays = {
        "global": tokens.global_tokens[0].unsqueeze(0),
        "semantic": tokens.semantic_tokens[0],
        "paralinguistic": tokens.paralinguistic_tokens[0],
    }
    needed = {"global": 1, "semantic": num_s, "paralinguistic": num_p}
    streams, widths = [], {}
    for stream in STREAMS:
        codes = arrays[stream]
        if codes.is_floating_point() or codes.is_complex():
            raise TokenFileError(f"{path}: {stream} tokens must be integers, got {codes.dtype}")
        frames, books = codes.shape
        if codes.shape[0] < needed[stream]:
            raise TokenFileError(
                f"{path}: {stream} tokens hold {frames} frames, {num_samples} samples "
                f"need {needed[stream]}"
            )
        # P may keep fewer codebooks than the model has (a lower bitrate)
        allowed = range(1, counts[stream] + 1) if stream == "paralinguistic" else [
            counts[stream]]
        if books not in allowed:
            raise TokenFileError(
                f"{path}: {stream} tokens have {books} codebooks, the model has "
                f"{counts[stream]}"
            )
        codes = codes[:needed[stream]].detach().cpu().numpy().astype(np.int64).reshape(-1)
        _check_range(codes, int(sizes[stream]), stream, path)
        widths[stream] = bits_per_code(int(sizes[stream]))
        streams.append((codes, widths[stream]))
    payload = _pack(streams)
    fields = [
        MAGIC, FORMAT_VERSION, HEADER_SIZE, bytes.fromhex(model_info["fingerprint"]),
        int(model_info["sample_rate"]), hop, stride,
        arrays["global"].shape[1], arrays["semantic"].shape[1],
        arrays["paralinguistic"].shape[1],
        int(sizes["global"]), int(sizes["semantic"]), int(sizes["paralinguistic"]),
        num_samples, num_s, num_p, len(payload),
    ]
    head = _HEADER.pack(*fields, 0)[:-4]
    crc = zlib.crc32(payload, zlib.crc32(head))
    with open(path, "wb") as f:
        f.write(head + struct.pack("<I", crc) + payload)


def read_header(path):
    """Reads and checks a token file; returns its header and payload bytes.

    Returns
    -------
    info : dict
        Header fields, see :func:`load_tokens`.
    payload : bytes

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TokenFileError
        Naming ``path``: not a token file (magic), unsupported version, truncated,
        corrupt (checksum or inconsistent fields).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Token file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != MAGIC[:len(data[:4])]:
        raise TokenFileError(
            f"{path}: not a UniCodec token file (magic {data[:4]!r}, expected {MAGIC!r})"
        )
    if len(data) < 6:
        raise TokenFileError(f"{path}: truncated token file ({len(data)} bytes)")
    version = struct.unpack_from("<H", data, 4)[0]
    if version != FORMAT_VERSION:
        raise TokenFileError(
            f"{path}: unsupported token file version {version} (this UniCodec reads "
            f"version {FORMAT_VERSION})"
        )
    if len(data) < HEADER_SIZE:
        raise TokenFileError(
            f"{path}: truncated token file ({len(data)} bytes, the header alone has "
            f"{HEADER_SIZE})"
        )
    (_, _, header_size, fingerprint, sample_rate, hop, stride, kg, ks, kp, cg, cs, cp,
     num_samples, num_s, num_p, payload_bytes, crc) = _HEADER.unpack_from(data)
    if header_size != HEADER_SIZE:
        raise TokenFileError(f"{path}: corrupt token file (header size {header_size})")
    if len(data) != HEADER_SIZE + payload_bytes:
        kind = "truncated" if len(data) < HEADER_SIZE + payload_bytes else "corrupt"
        raise TokenFileError(
            f"{path}: {kind} token file ({len(data)} bytes, the header announces "
            f"{HEADER_SIZE + payload_bytes})"
        )
    payload = data[HEADER_SIZE:]
    if zlib.crc32(payload, zlib.crc32(data[:HEADER_SIZE - 4])) != crc:
        raise TokenFileError(f"{path}: corrupt token file (checksum mismatch)")
    sizes = {"global": cg, "semantic": cs, "paralinguistic": cp}
    counts = {"global": kg, "semantic": ks, "paralinguistic": kp}
    expected_frames = _frame_counts(num_samples, hop, stride) if hop and stride else None
    bits = (kg * bits_per_code(max(cg, 1)) + num_s * ks * bits_per_code(max(cs, 1))
            + num_p * kp * bits_per_code(max(cp, 1)))
    # kg may be 0: a codec without global tokens
    if (min(sample_rate, hop, stride, ks, kp, cg, cs, cp, num_samples) < 1
            or (num_s, num_p) != expected_frames or payload_bytes != math.ceil(bits / 8)):
        raise TokenFileError(f"{path}: corrupt token file (inconsistent header fields)")
    info = {
        "path": path,
        "version": version,
        "fingerprint": fingerprint.hex(),
        "sample_rate": sample_rate,
        "hop_length": hop,
        "paralinguistic_stride": stride,
        "num_samples": num_samples,
        "duration": num_samples / sample_rate,
        "num_frames": {"semantic": num_s, "paralinguistic": num_p},
        "num_codebooks": counts,
        "codebook_sizes": sizes,
        "bits_per_code": {k: bits_per_code(v) for k, v in sizes.items()},
        "payload_bits": bits,
        "file_bytes": len(data),
    }
    return info, payload


def check_model_info(info, expected, path):
    """Raises :class:`TokenFileError` if a token file's header does not fit a model.

    Arguments
    ---------
    info : dict
        Header of the token file (:func:`read_header`).
    expected : dict
        The model's :func:`model_info`.
    path : str
        The file, for the message.
    """
    if info["fingerprint"] != expected["fingerprint"]:
        raise TokenFileError(
            f"{path}: token file from another model (fingerprint {info['fingerprint']}, "
            f"this model is {expected['fingerprint']}); decode it with the model that "
            "encoded it"
        )
    for key in ("sample_rate", "hop_length", "paralinguistic_stride", "codebook_sizes"):
        if info[key] != expected[key]:
            raise TokenFileError(
                f"{path}: {key} {info[key]} does not match the model's {expected[key]}"
            )
    for stream in STREAMS:
        if info["num_codebooks"][stream] > expected["num_codebooks"][stream]:
            raise TokenFileError(
                f"{path}: {info['num_codebooks'][stream]} {stream} codebooks, the model "
                f"has {expected['num_codebooks'][stream]}"
            )


def load_tokens(path, expected_model_info=None):
    """Reads a token file.

    Arguments
    ---------
    path : str or os.PathLike
        The token file.
    expected_model_info : dict, optional
        The :func:`model_info` of the model that will decode the tokens; the file must
        come from that model (same fingerprint).

    Returns
    -------
    tokens : Tokens
        Batch of one utterance, ``torch.long``; S zero-padded to ``Tp * stride`` frames.
    info : dict
        ``path``, ``version``, ``fingerprint``, ``sample_rate``, ``hop_length``,
        ``paralinguistic_stride``, ``num_samples``, ``duration`` (s), ``num_frames``,
        ``num_codebooks``, ``codebook_sizes``, ``bits_per_code``, ``payload_bits``,
        ``file_bytes``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    TokenFileError
        Naming the file: truncated or corrupt, wrong magic, unsupported version, from
        another model, or holding codes outside their codebook.
    """
    path = os.fspath(path)
    info, payload = read_header(path)
    if expected_model_info is not None:
        check_model_info(info, expected_model_info, path)
    counts, sizes, frames = info["num_codebooks"], info["codebook_sizes"], info["num_frames"]
    shapes = {
        "global": (1, counts["global"]),
        "semantic": (frames["semantic"], counts["semantic"]),
        "paralinguistic": (frames["paralinguistic"], counts["paralinguistic"]),
    }
    arrays = _unpack(payload, [
        (shapes[s][0] * shapes[s][1], info["bits_per_code"][s]) for s in STREAMS
    ])
    out = {}
    for stream, codes in zip(STREAMS, arrays):
        _check_range(codes, sizes[stream], stream, path)
        out[stream] = torch.from_numpy(codes.reshape(shapes[stream]))
    semantic = torch.zeros(
        frames["paralinguistic"] * info["paralinguistic_stride"], counts["semantic"],
        dtype=torch.long,
    )
    semantic[:frames["semantic"]] = out["semantic"]
    tokens = Tokens(
        global_tokens=out["global"],
        semantic_tokens=semantic.unsqueeze(0),
        paralinguistic_tokens=out["paralinguistic"].unsqueeze(0),
        num_samples=torch.tensor([info["num_samples"]]),
    )
    return tokens, info
