"""Encode + decode speed and size of UniCodec beside peer codecs (random weights, CPU).

Every codec codes the same duration of audio at its own sample rate, in one process with
the same number of threads; the table gives the real-time factor (time / audio duration)
of encoding, decoding and both, the parameter count, and the ratios of RTF and parameters
to the first UniCodec row. Peers that are not installed (or fail to build) are listed as
skipped; they are never requirements of the package. They install beside the CPU torch
with::

    pip install encodec speechtokenizer beartype vector-quantize-pytorch  # EnCodec, ST
    pip install --no-deps moshi                                           # Mimi
    # DAC: SpeechBrain's copy (speechbrain.lobes.models.discrete.dac), or descript-audio-codec

Then the peak resident memory of one-shot UniCodec encode + decode is measured against
input duration, each in a fresh subprocess.

Usage: python benchmarks/peer_speed.py [--seconds 10] [--threads 2] [--repeats 3]
       [--memory-seconds 10 60] [--skip-memory] [--skip-speed] [--only unicodec encodec ...]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNICODEC_CONFIGS = ("hparams/models/unicodec.yaml", "hparams/models/unicodec_cpu.yaml")


class Codec:
    """A codec under test: how to encode and decode one waveform ``[1, T]``."""

    def __init__(self, name, model, sample_rate, encode, decode, bitrate, note=""):
        self.name, self.model, self.sample_rate = name, model, sample_rate
        self.encode, self.decode = encode, decode
        self.bitrate, self.note = bitrate, note

    @property
    def params(self):
        return sum(p.numel() for p in self.model.parameters())


def build_unicodec(config):
    from hyperpyyaml import load_hyperpyyaml

    with open(os.path.join(ROOT, config)) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    return Codec(f"UniCodec ({os.path.basename(config)})", codec, codec.sample_rate,
                 codec.encode, codec.decode, codec.bitrate(), codec.bitrate_report())


def build_encodec():
    from encodec import EncodecModel

    model = EncodecModel.encodec_model_24khz(pretrained=False)
    model.set_target_bandwidth(6.0)
    model.eval()
    return Codec("EnCodec 24 kHz", model, 24000, lambda wav: model.encode(wav[:, None]),
                 lambda frames: model.decode(frames), 6000.0, "8 codebooks x 75 Hz")


def build_mimi():
    from moshi.models.loaders import get_mimi

    model = get_mimi(None, device="cpu", num_codebooks=8)
    model.eval()
    return Codec("Mimi (moshi)", model, model.sample_rate,
                 lambda wav: model.encode(wav[:, None]), model.decode, 1100.0,
                 "8 codebooks x 12.5 Hz")


def build_speechtokenizer():
    from speechtokenizer import SpeechTokenizer

    config = {  # the released SpeechTokenizer config (hubert_avg)
        "sample_rate": 16000, "n_filters": 64, "dimension": 1024,
        "semantic_dimension": 768, "n_residual_layers": 1, "strides": [8, 5, 4, 2],
        "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3, "n_q": 8,
        "codebook_size": 1024, "lstm_layers": 2, "activation": "ELU",
    }
    model = SpeechTokenizer(config).eval()
    return Codec("SpeechTokenizer", model, 16000, lambda wav: model.encode(wav[:, None]),
                 model.decode, 4000.0, "8 codebooks x 50 Hz")


def build_dac():
    kwargs = dict(encoder_dim=64, encoder_rates=[2, 4, 5, 8], decoder_dim=1536,
                  decoder_rates=[8, 5, 4, 2], n_codebooks=12, codebook_size=1024,
                  codebook_dim=8, sample_rate=16000)
    try:
        import dac  # descript-audio-codec

        model = dac.DAC(**kwargs).eval()

        def encode(wav):
            return model.encode(wav[:, None])[0]

        source = "descript-audio-codec"
    except ImportError:
        from speechbrain.lobes.models.discrete.dac import DAC

        model = DAC(**kwargs).eval()

        def encode(wav):
            return model.encode(wav[:, None])[0]

        source = "SpeechBrain's copy"
    return Codec("DAC 16 kHz", model, 16000, encode, model.decode, 6000.0,
                 f"12 codebooks x 50 Hz, {source}")


PEERS = {
    "encodec": build_encodec,
    "mimi": build_mimi,
    "speechtokenizer": build_speechtokenizer,
    "dac": build_dac,
}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed_table(args):
    """Builds every codec, then times them in interleaved rounds (best round per codec).

    Interleaving spreads each codec's measurements over the whole run, so that a burst
    of load from other processes does not fall on one codec only.
    """
    codecs, skipped = [], []
    builders = [(cfg, lambda cfg=cfg: build_unicodec(cfg)) for cfg in UNICODEC_CONFIGS]
    builders += list(PEERS.items())
    gen = torch.Generator().manual_seed(0)
    for key, build in builders:
        if args.only and not any(o in key for o in args.only):
            continue
        try:
            codec = build()
            wav = 0.1 * torch.randn(1, int(args.seconds * codec.sample_rate), generator=gen)
            with torch.inference_mode():
                codes = codec.encode(wav)  # warm-up
                codec.decode(codes)
        except Exception as err:  # a peer that is missing or broken is listed, not fatal
            skipped.append((key, f"{type(err).__name__}: {str(err).splitlines()[0][:90]}"))
            continue
        codecs.append((codec, wav, codes, [float("inf"), float("inf")]))
    for _ in range(args.repeats):
        for codec, wav, codes, best in codecs:
            with torch.inference_mode():
                best[0] = min(best[0], timed(lambda: codec.encode(wav)))
                best[1] = min(best[1], timed(lambda: codec.decode(codes)))
    rows = []
    for codec, _, _, (t_enc, t_dec) in codecs:
        enc, dec = t_enc / args.seconds, t_dec / args.seconds
        rows.append(dict(name=codec.name, sample_rate=codec.sample_rate, params=codec.params,
                         encode_rtf=enc, decode_rtf=dec, rtf=enc + dec,
                         bitrate=codec.bitrate, note=codec.note))
    return rows, skipped


def print_speed(rows, skipped, args):
    print(f"\nEncode + decode of {args.seconds:g} s of audio, {args.threads} threads, "
          f"random weights, best of {args.repeats} interleaved rounds after a warm-up "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")
    print("| codec | sample rate | bitrate (bps) | params (M) | encode RTF | decode RTF "
          "| total RTF | RTF / UniCodec | params / UniCodec |")
    print("|---|---|---|---|---|---|---|---|---|")
    ref = rows[0] if rows else None
    for r in rows:
        print(f"| {r['name']} | {r['sample_rate']} | {r['bitrate']:.0f} "
              f"| {r['params'] / 1e6:.1f} | {r['encode_rtf']:.4f} | {r['decode_rtf']:.4f} "
              f"| {r['rtf']:.4f} | {r['rtf'] / ref['rtf']:.2f} "
              f"| {r['params'] / ref['params']:.2f} |")
    if ref is not None:
        print(f"(ratios to {ref['name']})")
    for key, reason in skipped:
        print(f"skipped {key}: {reason}")


# ---------------------------------------------------------------- memory
def peak_mib():
    """Peak resident memory of this process so far, in MiB.

    Read from ``VmHWM`` in ``/proc/self/status``, which starts afresh at ``exec``;
    ``ru_maxrss`` does not (a child started by a large parent reports the parent's peak).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(config, seconds, threads):
    """Runs in a fresh process: one-shot encode + decode; prints a JSON line."""
    torch.set_num_threads(threads)
    codec = build_unicodec(config)
    wav = 0.1 * torch.randn(1, int(seconds * codec.sample_rate),
                            generator=torch.Generator().manual_seed(0))
    before = peak_mib()
    start = time.perf_counter()
    with torch.inference_mode():
        out = codec.decode(codec.encode(wav))
    elapsed = time.perf_counter() - start
    assert out.shape == wav.shape
    print(json.dumps({"config": config, "seconds": seconds, "before_mib": before,
                      "peak_mib": peak_mib(), "rtf": elapsed / seconds}))


def memory_table(args):
    print(f"\nPeak resident memory of one-shot UniCodec encode + decode (fresh process each, "
          f"{args.threads} threads)")
    print("| config | input (s) | after model build (MiB) | peak (MiB) | peak - build (MiB) "
          "| RTF (one cold call) |")
    print("|---|---|---|---|---|---|")
    for config in UNICODEC_CONFIGS:
        for seconds in args.memory_seconds:
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", config,
                   str(seconds), "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(f"| {config} | {seconds:g} | failed: "
                      f"{proc.stderr.strip().splitlines()[-1][:80]} | | | |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"| {config} | {seconds:g} | {r['before_mib']:.0f} | {r['peak_mib']:.0f} "
                  f"| {r['peak_mib'] - r['before_mib']:.0f} | {r['rtf']:.4f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--memory-seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--only", nargs="+", help="keys to run (substrings: unicodec, dac...)")
    parser.add_argument("--memory-child", nargs=2, metavar=("CONFIG", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child[0], float(args.memory_child[1]), args.threads)
        return
    torch.manual_seed(0)
    if not args.skip_speed:
        rows, skipped = speed_table(args)
        print_speed(rows, skipped, args)
    if not args.skip_memory:
        memory_table(args)


if __name__ == "__main__":
    main()
