"""Encode and decode one synthesized utterance with an untrained UniCodec.

Prints the token shapes, the bitrate and the parameter count of a model config.
Usage: python tools/demo.py [hparams/models/unicodec.yaml]
"""

import sys

import torch
from hyperpyyaml import load_hyperpyyaml


def main(config="hparams/models/unicodec.yaml"):
    torch.manual_seed(0)
    with open(config) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    seconds = 3.0
    t = torch.arange(int(seconds * codec.sample_rate)) / codec.sample_rate
    f0 = 120 + 30 * torch.sin(2 * torch.pi * 0.7 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / codec.sample_rate
    wav = 0.1 * sum(torch.sin(k * phase) / k for k in range(1, 8)).unsqueeze(0)
    with torch.no_grad():
        tokens = codec.encode(wav)
        out = codec.decode(tokens)
    params = sum(p.numel() for p in codec.parameters()) / 1e6
    print(f"model      {config} ({params:.1f}M parameters, untrained)")
    print(f"input      {wav.shape[1]} samples, {seconds:g} s at {codec.sample_rate} Hz")
    print(f"G tokens   {tuple(tokens.global_tokens.shape)}  one set per utterance")
    print(f"S tokens   {tuple(tokens.semantic_tokens.shape)}  at {codec.frame_rate:g} Hz")
    print(f"P tokens   {tuple(tokens.paralinguistic_tokens.shape)}  at "
          f"{codec.paralinguistic_frame_rate:g} Hz")
    print(f"bitrate    {codec.bitrate_report(seconds)}")
    print(f"decoded    {out.shape[1]} samples")


if __name__ == "__main__":
    main(*sys.argv[1:])
