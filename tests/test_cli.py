"""The ``unicodec`` command end to end on temporary files."""

import os
import subprocess
import sys

import pytest
import soundfile as sf
import torch

from conftest import speechlike
from test_inference import export_tiny, tiny_model, write_wav
from unicodec.cli import main
from unicodec.inference import load_model
from unicodec.token_file import load_tokens


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder, _ = export_tiny(tiny_model(), str(tmp_path_factory.mktemp("cli") / "model"))
    return folder


@pytest.fixture(scope="module")
def interface(model_dir):
    return load_model(model_dir, device="cpu")


@pytest.fixture
def audio(tmp_path):
    return {
        "a": write_wav(tmp_path / "a.wav", speechlike(24000, seed=1)),
        "b": write_wav(tmp_path / "b.wav", speechlike(13000, seed=2) * 2),
        "c": write_wav(tmp_path / "c.wav", speechlike(40000, seed=3, sample_rate=22050), 22050),
    }


def run(model_dir, *args):
    return main(["-q", "--model", model_dir, *args])


def test_encode_decode_round_trip(model_dir, interface, audio, tmp_path, capsys):
    tokens_path = str(tmp_path / "a.uct")
    assert run(model_dir, "encode", audio["a"], "-o", tokens_path) == 0
    tokens, info = load_tokens(tokens_path, expected_model_info=interface.model_info)
    expected = interface.encode_file(audio["a"])
    for field in ("global_tokens", "semantic_tokens", "paralinguistic_tokens", "num_samples"):
        assert torch.equal(getattr(tokens, field), getattr(expected, field)), field
    assert run(model_dir, "decode", tokens_path, "-o", str(tmp_path / "a_out.wav")) == 0
    wav, rate = sf.read(tmp_path / "a_out.wav")
    assert rate == 16000 and wav.shape == (24000,)
    reference = interface.decode_batch(expected)[0].numpy()
    assert abs(wav - reference.clip(-1, 1)).max() < 1e-3  # 16-bit wav
    # lower bitrate: one P codebook
    assert run(model_dir, "encode", audio["a"], "-o", str(tmp_path / "low.uct"),
               "--num-paralinguistic", "1") == 0
    assert load_tokens(tmp_path / "low.uct")[1]["num_codebooks"]["paralinguistic"] == 1
    assert os.path.getsize(tmp_path / "low.uct") < os.path.getsize(tokens_path)


def test_several_files_go_to_a_folder(model_dir, audio, tmp_path):
    out = tmp_path / "tokens"
    assert run(model_dir, "encode", audio["a"], audio["b"], audio["c"], "-o", str(out)) == 0
    assert sorted(os.listdir(out)) == ["a.uct", "b.uct", "c.uct"]
    # 40000 samples at 22.05 kHz are resampled to 16 kHz
    assert load_tokens(out / "c.uct")[1]["num_samples"] == round(40000 * 16000 / 22050)
    decoded = tmp_path / "decoded"
    inputs = [str(out / name) for name in ("a.uct", "b.uct")]
    assert run(model_dir, "decode", *inputs, "-o", str(decoded)) == 0
    assert sf.info(str(decoded / "b.wav")).frames == 13000
    assert run(model_dir, "resynth", audio["a"], audio["b"], "-o", str(tmp_path / "re")) == 0
    assert [sf.info(str(tmp_path / "re" / f)).frames for f in ("a.wav", "b.wav")] == [
        24000, 13000]


def test_convert_keeps_the_source_length(model_dir, interface, audio, tmp_path):
    out = str(tmp_path / "converted.wav")
    assert run(model_dir, "convert", audio["b"], "--speaker", audio["a"], "-o", out) == 0
    wav, rate = sf.read(out)
    assert rate == 16000 and wav.shape == (13000,)
    expected = interface.convert(audio["b"], speaker=audio["a"])[0].numpy().clip(-1, 1)
    assert abs(wav - expected).max() < 1e-3
    # speaker and prosody from token files or audio, prosody stretched or trimmed
    interface.save_tokens(tmp_path / "c.uct", interface.encode_file(audio["c"]))
    for align in ("stretch", "trim"):
        out = str(tmp_path / f"prosody_{align}.wav")
        assert run(model_dir, "convert", audio["b"], "--speaker", str(tmp_path / "c.uct"),
                   "--prosody", audio["c"], "--prosody-align", align, "-o", out) == 0
        assert sf.info(out).frames == 13000


def test_info_describes_model_and_token_files(model_dir, interface, audio, tmp_path, capsys):
    assert run(model_dir, "info") == 0
    text = capsys.readouterr().out
    assert interface.model_info["fingerprint"] in text
    assert "600 bps local" in text
    assert run(model_dir, "encode", audio["b"], "-o", str(tmp_path / "b.uct")) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "b.uct")]) == 0  # no model needed
    text = capsys.readouterr().out
    assert "0.812 s at 16000 Hz (13000 samples)" in text
    assert "S             41 frames x 1 codebooks x 6 bits (codebook 64) at 50 Hz" in text
    assert run(model_dir, "info", str(tmp_path / "b.uct")) == 0
    assert "made by the --model model" in capsys.readouterr().out


def test_errors_name_the_input_and_exit_nonzero(model_dir, audio, tmp_path, capsys):
    missing = str(tmp_path / "missing.wav")
    assert run(model_dir, "encode", missing, "-o", str(tmp_path / "x.uct")) == 1
    assert f"Audio file not found: {missing}" in capsys.readouterr().err
    broken = tmp_path / "broken.uct"
    broken.write_bytes(b"UCTK\x01\x00")
    assert run(model_dir, "decode", str(broken), "-o", str(tmp_path / "x.wav")) == 1
    err = capsys.readouterr().err
    assert str(broken) in err and "truncated" in err
    assert main(["-q", "encode", audio["a"], "-o", str(tmp_path / "y.uct")]) == 1
    assert "no model" in capsys.readouterr().err
    assert run(str(tmp_path / "nomodel"), "info") == 1
    assert "has no hyperparams.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: missing -o
        main(["--model", model_dir, "encode", audio["a"]])


def test_module_runs_as_a_command(model_dir, audio, tmp_path):
    out = tmp_path / "sub.wav"
    proc = subprocess.run(
        [sys.executable, "-m", "unicodec.cli", "--model", model_dir, "resynth", audio["b"],
         "-o", str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{audio['b']} -> {out}" in proc.stderr  # logged at INFO
    assert sf.info(str(out)).frames == 13000
