"""benchmarks/pitch_judge_scale.py: its transformations keep the pitch, and the report runs."""

import importlib.util
import json
import math
import os
import sys

import pytest
import torch

from unicodec.evaluation.report import write_example_source

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import pitch_judge_scale  # noqa: E402


def glide(seconds=1.0, sample_rate=16000):
    """Five harmonics of an F0 gliding from 110 to 220 Hz."""
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 110.0 * 2 ** (t / seconds)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
    return 0.2 * sum(torch.sin(k * phase) / k for k in range(1, 6))


def test_transformations_keep_length_and_change_the_waveform_little():
    wav = glide()
    for name, transform in pitch_judge_scale.transformations().items():
        out = transform(wav)
        assert out.shape == wav.shape, name
        error = (out - wav).pow(2).mean() / wav.pow(2).mean()
        assert 0 < error < (1.0 if name == "delayed 0.3 ms" else 0.05), name
    noisy = pitch_judge_scale.with_noise(wav, 40.0)
    assert math.isclose(10 * math.log10(wav.pow(2).mean() / (noisy - wav).pow(2).mean()),
                        40.0, abs_tol=0.2)


def test_the_judges_find_the_pitch_of_a_clean_glide_in_every_transformation():
    pytest.importorskip("pyworld")
    wav = glide()
    systems = pitch_judge_scale.transformations()
    results, pitched = pitch_judge_scale.score_source([({"id": "g"}, wav)], systems)
    assert pitched == 1
    for name, summary in results.items():
        assert summary["gross_pitch_error"] < 0.02, name
        assert summary["f0_contour_corr"] > 0.99, name


def test_report_runs_on_a_source_and_leaves_whispered_utterances_out(tmp_path, capsys):
    pytest.importorskip("pyworld")
    source = write_example_source(str(tmp_path / "data"), num_speakers=2, utts_per_speaker=2)
    # a fidelity.py run's figures: its models join the table (its Codec 2 too, as this run
    # scores none), its pitch analysis does not
    figures = {"gross_pitch_error": 0.04, "f0_contour_corr": 0.47, "voicing_agreement": 0.86}
    fidelity = tmp_path / "fidelity.json"
    fidelity.write_text(json.dumps({"results": {
        "toy": {"UniCodec": figures, "Codec 2 1200": figures, "tracker on the original": figures,
                "_utterances": 4, "_unpitched": 2},
        "other": {"UniCodec": figures}}}))
    out = tmp_path / "report"
    assert pitch_judge_scale.main(["--data", f"toy={source}", "--codec2",
                                   "--unvoiced-styles", "lively", "--fidelity", str(fidelity),
                                   "--output", str(out)]) == 0
    toy = json.loads((out / "pitch_judge_scale.json").read_text())["toy"]
    assert toy["_utterances"] == 2  # the "lively" half left out
    assert set(toy) == {"_utterances", "UniCodec", "Codec 2 1200",
                        *pitch_judge_scale.transformations()}
    text = (out / "pitch_judge_scale.md").read_text()
    assert "| log-F0 contour correlation | toy |" in text and "| Codec 2 1200 |" in text
    assert "0.470 |" in text
    assert "warning" not in capsys.readouterr().out
    if importlib.util.find_spec("matplotlib"):
        assert (out / "pitch_judge_scale.png").stat().st_size > 1000
    # a fidelity run of other utterances is named
    fidelity.write_text(json.dumps({"results": {"toy": {"UniCodec": figures,
                                                        "_utterances": 3}}}))
    assert pitch_judge_scale.main(["--data", f"toy={source}", "--codec2",
                                   "--unvoiced-styles", "lively", "--fidelity", str(fidelity),
                                   "--output", str(out)]) == 0
    assert "toy: 3 pitched utterances in the fidelity run, 2 here" in capsys.readouterr().out


def test_bad_arguments_are_one_line(tmp_path, capsys):
    pytest.importorskip("pyworld")
    with pytest.raises(SystemExit) as err:
        pitch_judge_scale.main(["--data", str(tmp_path), "--codec2", "1000"])
    assert err.value.code == 2
    assert "--codec2 1000" in capsys.readouterr().err
    source = write_example_source(str(tmp_path / "data"), num_speakers=1, utts_per_speaker=1)
    with pytest.raises(SystemExit) as err:
        pitch_judge_scale.main(["--data", f"toy={source}", "--codec2",
                                "--fidelity", str(tmp_path / "missing.json"),
                                "--output", str(tmp_path / "out")])
    assert err.value.code == 2
    assert "missing.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        pitch_judge_scale.main(["--data", f"none={tmp_path / 'nothing'}", "--codec2",
                                "--output", str(tmp_path / "out")])
    assert err.value.code == 2
    assert "no source could be read" in capsys.readouterr().err
