"""benchmarks/fidelity.py on a tiny exported model: the report, its figures and pictures."""

import json
import os
import sys

import pytest

from test_inference import export_tiny, tiny_model
from unicodec.evaluation.report import write_example_source

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def run_fidelity(tmp_path, num_speakers, utts_per_speaker, *args):
    """fidelity.py on a tiny exported model and a toy source; the report's "toy" results."""
    pytest.importorskip("pyworld")
    import fidelity

    model, _ = export_tiny(tiny_model(), str(tmp_path / "model"))
    source = write_example_source(str(tmp_path / "data"), num_speakers=num_speakers,
                                  utts_per_speaker=utts_per_speaker)
    out = tmp_path / "report"
    assert fidelity.main(["--model", f"tiny={model}", "--data", f"toy={source}",
                          "--output", str(out), *args]) == 0
    return json.loads((out / "fidelity.json").read_text())["results"]["toy"], out


def test_fidelity_report_scores_every_system_and_source(tmp_path):
    toy, out = run_fidelity(tmp_path, 3, 2, "--max-utterances", "4", "--vc-pairs", "2",
                            "--style-utterances", "6")
    import fidelity

    assert toy["_utterances"] == 4
    systems = ["tiny"] + [name for name in toy if name.startswith("Codec 2")]
    for name in systems:
        assert 0 <= toy[name]["gross_pitch_error"] <= 1
        assert 0 <= toy[name]["voicing_agreement"] <= 1
    assert "vc_closer_to_target" in toy["tiny"] and "style_from_G+P" in toy["tiny"]
    # the model's own analysis against Harvest on the originals
    assert 0 <= toy[fidelity.TRACKER]["gross_pitch_error"] <= 1
    text = (out / "fidelity.md").read_text()
    assert "gross pitch error" in text and "| toy |" in text
    if pytest.importorskip("matplotlib"):
        assert (out / "toy.png").stat().st_size > 1000


def test_fidelity_without_voice_conversion_or_style_probe(tmp_path):
    toy, _ = run_fidelity(tmp_path, 2, 1, "--vc-pairs", "0", "--style-utterances", "0",
                          "--codec2", "0")
    assert "vc_closer_to_target" not in toy["tiny"] and "gross_pitch_error" in toy["tiny"]


def test_fidelity_names_a_missing_model(tmp_path, capsys):
    pytest.importorskip("pyworld")
    import fidelity

    with pytest.raises(SystemExit) as err:
        fidelity.main(["--model", f"x={tmp_path / 'nothing'}", "--data", str(tmp_path)])
    assert err.value.code == 2
    assert "nothing" in capsys.readouterr().err
