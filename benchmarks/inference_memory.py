"""Peak memory and time of windowed encoding + decoding for 10 s, 1 min and 10 min inputs.

Each measurement runs in a fresh subprocess, whose peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is read before and after coding (the
input waveform is already in memory before; the output waveform counts in the growth).
Times are the fastest of ``--repeats`` codings (the first also sets up kernels). The
model is built from a model-only YAML with random weights (enough for memory and
speed). For comparison, one-shot coding (``UniCodec.encode``/``decode`` on the whole
input) is measured on the shorter inputs.

Usage: python benchmarks/inference_memory.py [--hparams hparams/models/unicodec_cpu.yaml]
       [--durations 10 60 600] [--window 20] [--hop 18] [--threads 1] [--repeats 2]
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_mb():
    """Peak resident memory of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speechlike_into(out, sample_rate, seed=0):
    """Fills ``out`` with a voiced-like signal one second at a time (no large temporaries)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    phase0 = 0.0
    for start in range(0, out.shape[0], sample_rate):
        end = min(out.shape[0], start + sample_rate)
        t = torch.arange(start, end, dtype=torch.float64) / sample_rate
        f0 = 130 + 30 * torch.sin(2 * math.pi * 1.5 * t)
        phase = phase0 + 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
        phase0 = float(phase[-1])
        wav = sum(torch.sin(k * phase) / k for k in range(1, 6))
        envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 2.5 * t)
        noise = 0.05 * torch.randn(end - start, generator=gen, dtype=torch.float64)
        out[start:end] = (0.2 * wav * envelope + noise).float()


def child(args):
    """One measurement; prints a JSON line."""
    import torch
    from hyperpyyaml import load_hyperpyyaml

    from unicodec.inference import UniCodecInterface

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.hparams) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    interface = UniCodecInterface.from_codec(
        codec, device="cpu", window_seconds=args.window, hop_seconds=args.hop)
    warm = torch.randn(1, codec.sample_rate) * 0.1
    interface.decode_batch(interface.encode_batch(warm))
    num_samples = int(args.child * codec.sample_rate)
    wav = torch.empty(num_samples)
    speechlike_into(wav, codec.sample_rate)
    baseline = peak_mb()
    times = []
    for _ in range(args.repeats):  # the first run also sets up kernels for new shapes
        start = time.perf_counter()
        if args.mode == "windowed":
            tokens = interface.encode_batch(wav.unsqueeze(0))
            middle = time.perf_counter()
            out = interface.decode_batch(tokens)
        else:
            with torch.no_grad():
                tokens = codec.encode(wav.unsqueeze(0))
                middle = time.perf_counter()
                out = codec.decode(tokens)
        times.append((middle - start, time.perf_counter() - middle))
        assert out.shape == (1, num_samples)
        del tokens, out
    encode_s, decode_s = min(times, key=sum)
    print(json.dumps({
        "mode": args.mode, "seconds": args.child, "encode_s": encode_s, "decode_s": decode_s,
        "baseline_mb": baseline, "peak_mb": peak_mb(),
        "audio_mb": 2 * 4 * num_samples / 2**20,
    }))


def run(args, seconds, mode):
    """Runs one measurement in a fresh interpreter."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(seconds), "--mode", mode,
           "--hparams", args.hparams, "--window", str(args.window), "--hop", str(args.hop),
           "--threads", str(args.threads), "--repeats", str(args.repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        return {"mode": mode, "seconds": seconds, "error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hparams", default=os.path.join(ROOT, "hparams/models/unicodec_cpu.yaml"))
    parser.add_argument("--durations", type=float, nargs="+", default=[10, 60, 600])
    parser.add_argument("--oneshot-max", type=float, default=60,
                        help="also measure one-shot coding up to this duration (s)")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--hop", type=float, default=18.0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a busy shared CPU more threads "
                        "can be much slower)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="codings per measurement; the fastest is reported")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="windowed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args)
    print(f"config {os.path.relpath(args.hparams, ROOT)}, random weights, {args.threads} "
          f"threads, windows of {args.window:g} s every {args.hop:g} s")
    print(f"{'mode':9} {'audio':>7} {'encode':>8} {'decode':>8} {'RTF':>7} "
          f"{'base MB':>8} {'peak MB':>8} {'growth':>7} {'(in+out audio)':>14}")
    jobs = [(s, "windowed") for s in args.durations]
    jobs += [(s, "oneshot") for s in args.durations if s <= args.oneshot_max]
    for seconds, mode in jobs:
        r = run(args, seconds, mode)
        if "error" in r:
            print(f"{mode:9} {seconds:>6g}s  failed: {r['error']}")
            continue
        total = r["encode_s"] + r["decode_s"]
        print(f"{mode:9} {seconds:>6g}s {r['encode_s']:>7.2f}s {r['decode_s']:>7.2f}s "
              f"{total / seconds:>7.4f} {r['baseline_mb']:>8.0f} {r['peak_mb']:>8.0f} "
              f"{r['peak_mb'] - r['baseline_mb']:>7.0f} {r['audio_mb']:>13.0f}")


if __name__ == "__main__":
    main()
