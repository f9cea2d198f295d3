"""The ``unicodec`` command: encode, decode, resynthesize and convert speech from a shell.

Every subcommand but ``info`` on token files needs an exported model folder
(:func:`unicodec.export.export_model`), given with ``--model DIR`` or the
``UNICODEC_MODEL`` environment variable::

    unicodec --model exported/ encode speech.flac -o speech.uct
    unicodec --model exported/ decode speech.uct -o speech.wav
    unicodec --model exported/ resynth a.wav b.wav -o resynth/
    unicodec --model exported/ convert source.wav --speaker voice.wav -o out.wav
    unicodec --model exported/ info
    unicodec info speech.uct

Several inputs go to a folder (``-o DIR``), one output per input, named after it.

Example
-------
>>> parser = build_parser()
>>> args = parser.parse_args(["--model", "m", "encode", "a.wav", "b.wav", "-o", "out"])
>>> args.command, args.inputs, args.output
('encode', ['a.wav', 'b.wav'], 'out')
"""

import argparse
import logging
import os
import sys

from tqdm import tqdm

from unicodec.token_file import SUFFIX, check_model_info, read_header

logger = logging.getLogger("unicodec")


def build_parser():
    """The argument parser of the ``unicodec`` command."""
    parser = argparse.ArgumentParser(
        prog="unicodec",
        description="UniCodec: low-bitrate speech tokens (global, semantic, "
        "paralinguistic) and back.",
    )
    parser.add_argument(
        "--model", default=os.environ.get("UNICODEC_MODEL"),
        help="exported model folder (default: $UNICODEC_MODEL)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--window", type=float, default=20.0,
                        help="window in seconds for long audio (default: 20)")
    parser.add_argument("--hop", type=float, default=18.0,
                        help="hop between windows in seconds (default: 18)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="only errors")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    encode = commands.add_parser("encode", help="audio files -> token files")
    encode.add_argument("inputs", nargs="+", help="audio files (any rate, mono or not)")
    encode.add_argument("-o", "--output", required=True,
                        help=f"token file ({SUFFIX}), or folder for several inputs")
    encode.add_argument("--num-paralinguistic", type=int, default=None,
                        help="P codebooks to keep (lower bitrate; default: all)")

    decode = commands.add_parser("decode", help="token files -> wav files")
    decode.add_argument("inputs", nargs="+", help=f"token files ({SUFFIX})")
    decode.add_argument("-o", "--output", required=True,
                        help="wav file, or folder for several inputs")

    resynth = commands.add_parser("resynth", help="audio files -> tokens -> wav files")
    resynth.add_argument("inputs", nargs="+", help="audio files")
    resynth.add_argument("-o", "--output", required=True,
                         help="wav file, or folder for several inputs")
    resynth.add_argument("--num-paralinguistic", type=int, default=None,
                         help="P codebooks to keep (default: all)")

    convert = commands.add_parser(
        "convert", help="source speech in the voice (G) of a speaker [and prosody (P) "
        "of another recording]")
    convert.add_argument("source", help="source audio or token file (words, length)")
    convert.add_argument("--speaker", required=True,
                         help="audio or token file whose global tokens (voice) are used")
    convert.add_argument("--prosody", default=None,
                         help="audio or token file whose paralinguistic tokens are used")
    convert.add_argument("--prosody-align", choices=("stretch", "trim"), default="stretch",
                         help="fit the prosody to the source length by stretching it in "
                         "time (default) or by cutting/repeating its end")
    convert.add_argument("-o", "--output", required=True, help="wav file")

    info = commands.add_parser("info", help="summary of the model or of token files")
    info.add_argument("inputs", nargs="*", help="token files (without: the model)")
    return parser


def _output_paths(inputs, output, suffix):
    """One output per input: ``output`` itself for a single input, else files in it."""
    if len(inputs) == 1 and not os.path.isdir(output) and not output.endswith(os.sep):
        return [output]
    os.makedirs(output, exist_ok=True)
    paths = [os.path.join(output, os.path.splitext(os.path.basename(p))[0] + suffix)
             for p in inputs]
    if len(set(paths)) != len(paths):
        raise ValueError(f"several inputs share a file name; {output} would get one output "
                         "for them")
    return paths


def _quiet_speechbrain(verbose):
    """Imports SpeechBrain before logging is set up and keeps its INFO messages (one per
    import and loaded file, its loggers are set to INFO) for ``--verbose``."""
    import speechbrain.inference.interfaces  # noqa: F401
    import speechbrain.utils.parameter_transfer  # noqa: F401

    level = logging.DEBUG if verbose else logging.WARNING
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("speechbrain"):
            logging.getLogger(name).setLevel(level)


def _load_interface(args):
    from unicodec.inference import load_model

    if not args.model:
        raise ValueError("no model: give --model DIR (an exported model folder) or set "
                         "UNICODEC_MODEL")
    return load_model(args.model, device=args.device, window_seconds=args.window,
                      hop_seconds=args.hop)


def _progress(args):
    return not args.quiet and sys.stderr.isatty()


def _items(args, pairs, desc):
    return tqdm(pairs, desc=desc, unit="file", disable=len(pairs) < 2 or not _progress(args))


def _tokens_of(interface, path, progress):
    """Tokens of a token file (``.uct``) or of an audio file."""
    if path.endswith(SUFFIX):
        return interface.load_tokens(path)[0]
    return interface.encode_file(path, progress=progress)


def _encode(args):
    interface = _load_interface(args)
    pairs = list(zip(args.inputs, _output_paths(args.inputs, args.output, SUFFIX)))
    for src, dst in _items(args, pairs, "encode"):
        tokens = interface.encode_file(src, args.num_paralinguistic, progress=_progress(args))
        interface.save_tokens(dst, tokens)
        logger.info("%s -> %s (%d bytes, %.2f s)", src, dst, os.path.getsize(dst),
                    int(tokens.num_samples[0]) / interface.sample_rate)


def _decode(args):
    interface = _load_interface(args)
    pairs = list(zip(args.inputs, _output_paths(args.inputs, args.output, ".wav")))
    for src, dst in _items(args, pairs, "decode"):
        interface.save_audio(dst, interface.decode_file(src, progress=_progress(args)))
        logger.info("%s -> %s", src, dst)


def _resynth(args):
    interface = _load_interface(args)
    pairs = list(zip(args.inputs, _output_paths(args.inputs, args.output, ".wav")))
    for src, dst in _items(args, pairs, "resynth"):
        tokens = interface.encode_file(src, args.num_paralinguistic, progress=_progress(args))
        interface.save_audio(dst, interface.decode_batch(tokens, _progress(args))[0])
        logger.info("%s -> %s", src, dst)


def _convert(args):
    interface = _load_interface(args)
    progress = _progress(args)
    source = _tokens_of(interface, args.source, progress)
    speaker = _tokens_of(interface, args.speaker, progress)
    prosody = None if args.prosody is None else _tokens_of(interface, args.prosody, progress)
    wav = interface.convert(source, speaker, prosody, args.prosody_align, progress)
    interface.save_audio(args.output, wav[0])
    logger.info("%s with the voice of %s%s -> %s", args.source, args.speaker,
                f" and the prosody of {args.prosody}" if args.prosody else "", args.output)


def _describe_model(interface, folder):
    codec = interface.codec
    info = interface.model_info
    window, hop = interface.window_samples()
    params = sum(p.numel() for p in codec.parameters())
    return "\n".join([
        f"model         {os.path.abspath(folder)}",
        f"fingerprint   {info['fingerprint']}",
        f"audio         {interface.sample_rate} Hz mono; S frames {interface.frame_rate:g} Hz,"
        f" P frames {interface.paralinguistic_frame_rate:g} Hz",
        f"tokens        {codec.bitrate_report()}",
        f"parameters    {params / 1e6:.2f} M",
        f"long audio    windows of {window / interface.sample_rate:g} s every "
        f"{hop / interface.sample_rate:g} s",
    ])


def _describe_tokens(info):
    sizes, counts, bits = info["codebook_sizes"], info["num_codebooks"], info["bits_per_code"]
    frames = info["num_frames"]
    rate = info["sample_rate"] / info["hop_length"]
    duration = info["duration"]
    lines = [
        f"file          {info['path']} ({info['file_bytes']} bytes)",
        f"format        UniCodec token file v{info['version']}, model fingerprint "
        f"{info['fingerprint']}",
        f"audio         {duration:.3f} s at {info['sample_rate']} Hz "
        f"({info['num_samples']} samples)",
        f"G             {counts['global']} codes x {bits['global']} bits "
        f"(codebook {sizes['global']})",
        f"S             {frames['semantic']} frames x {counts['semantic']} codebooks x "
        f"{bits['semantic']} bits (codebook {sizes['semantic']}) at {rate:g} Hz",
        f"P             {frames['paralinguistic']} frames x {counts['paralinguistic']} "
        f"codebooks x {bits['paralinguistic']} bits (codebook {sizes['paralinguistic']}) at "
        f"{rate / info['paralinguistic_stride']:g} Hz",
        f"bitrate       {info['payload_bits'] / duration:.1f} bps of tokens, "
        f"{8 * info['file_bytes'] / duration:.1f} bps with the header",
    ]
    return "\n".join(lines)


def _info(args):
    interface = _load_interface(args) if args.model else None
    if not args.inputs:
        if interface is None:
            raise ValueError("info: give token files, or --model DIR for the model summary")
        print(_describe_model(interface, args.model))
        return
    for index, path in enumerate(args.inputs):
        info, _ = read_header(path)
        if index:
            print()
        print(_describe_tokens(info))
        if interface is not None:
            try:
                check_model_info(info, interface.model_info, path)
                print("model         made by the --model model")
            except ValueError as err:
                print(f"model         does not fit the --model model: {err}")


COMMANDS = {"encode": _encode, "decode": _decode, "resynth": _resynth,
            "convert": _convert, "info": _info}


def main(argv=None):
    """Runs the ``unicodec`` command; returns the exit status (0 on success, 1 on error).

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    if args.command != "info" or args.model:
        _quiet_speechbrain(args.verbose)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(level)
    try:
        COMMANDS[args.command](args)
    except (OSError, ValueError) as err:
        print(f"unicodec {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
