"""Encode and decode speed of UniCodec on CPU, with the real-time factor and size.

Usage: python benchmarks/codec_speed.py [hparams/models/unicodec.yaml] [--seconds 10] [--threads 2]
"""

import argparse
import statistics
import time

import torch
from hyperpyyaml import load_hyperpyyaml


def timed(fn, repeats):
    """Best and median wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("hparams", nargs="?", default="hparams/models/unicodec.yaml")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.hparams) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    wav = torch.randn(1, int(args.seconds * codec.sample_rate)) * 0.1
    with torch.inference_mode():
        tokens = codec.encode(wav)
        t_enc = timed(lambda: codec.encode(wav), args.repeats)
        t_dec = timed(lambda: codec.decode(tokens), args.repeats)
    params = {
        name: sum(p.numel() for p in getattr(codec, name).parameters()) / 1e6
        for name in ("encoder", "global_encoder", "quantizer", "decoder")
    }
    print(f"config        {args.hparams}")
    print(f"audio         {args.seconds:g} s at {codec.sample_rate} Hz, {args.threads} threads")
    print(f"tokens        {codec.bitrate_report(args.seconds)}")
    print("parameters    " + ", ".join(f"{k} {v:.2f}M" for k, v in params.items())
          + f", total {sum(params.values()):.2f}M")
    for name, (best, median) in (("encode", t_enc), ("decode", t_dec)):
        print(f"{name:13s} best {best * 1000:.0f} ms (RTF {best / args.seconds:.4f}), "
              f"median {median * 1000:.0f} ms (RTF {median / args.seconds:.4f})")
    print(f"encode+decode RTF best {(t_enc[0] + t_dec[0]) / args.seconds:.4f}, "
          f"median {(t_enc[1] + t_dec[1]) / args.seconds:.4f}")


if __name__ == "__main__":
    main()
