"""Side-by-side comparison of evaluation reports, on reports of two tiny models."""

import json
import os
import re

import pytest
import torch

from conftest import (
    NO_GLOBAL_MODEL_YAML,
    TINY_MODEL_YAML,
    build_codec_without_global,
    build_tiny_codec,
)
from unicodec.evaluation import compare as compare_module
from unicodec.evaluation.report import main as evaluate, write_example_source


def _report(folder, yaml_text, codec, source, extra=()):
    folder.mkdir()
    (folder / "model.yaml").write_text(yaml_text)
    torch.save(codec.state_dict(), folder / "codec.ckpt")
    evaluate(["--hparams", str(folder / "model.yaml"), "--checkpoint",
              str(folder / "codec.ckpt"), "--data", source, "--output", str(folder / "report"),
              "--no-real", "--judges", "none", "--max-utterances", "2", "--num-plots", "0",
              "--vc-pairs", "2", *extra])
    return folder / "report"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    source = write_example_source(str(root / "data"), num_speakers=3, utts_per_speaker=4)
    torch.manual_seed(0)
    with_g = _report(root / "unicodec", TINY_MODEL_YAML, build_tiny_codec().eval(), source)
    torch.manual_seed(1)
    without_g = _report(root / "rvq", NO_GLOBAL_MODEL_YAML,
                        build_codec_without_global().eval(), source)
    return with_g, without_g


def test_comparison_puts_the_reports_side_by_side(reports, tmp_path):
    with_g, without_g = reports
    path = compare_module.main([f"UniCodec={with_g}", str(without_g),
                                "--output", str(tmp_path / "cmp")])
    text = open(path, encoding="utf-8").read()
    a = json.loads((with_g / "metrics.json").read_text())["sources"][0]
    b = json.loads((without_g / "metrics.json").read_text())["sources"][0]
    name = a["name"]
    assert f"## {name}" in text
    # the second report is named after its model folder
    assert "| metric | UniCodec | rvq |" in text
    mel = next(line for line in text.splitlines() if line.startswith("| log-mel distance"))
    assert mel == (f"| log-mel distance (lower is better) | "
                   f"{a['resynthesis']['mel_distance']:.3f} | "
                   f"{b['resynthesis']['mel_distance']:.3f} |")
    speaker_g = next(line for line in text.splitlines()
                     if line.startswith("| speaker from G"))
    assert speaker_g.split(" | ")[2] == "-"  # the model without G has no G probe
    vc = next(line for line in text.splitlines() if "closer to the target" in line)
    assert vc.endswith(" | - |") and " of 2 " in vc
    assert "### Quality against bitrate" in text and "### Probes" in text
    assert (tmp_path / "cmp" / f"quality_bitrate_{name}.png").stat().st_size > 0
    assert (tmp_path / "cmp" / f"probes_{name}.png").stat().st_size > 0
    assert "differ" not in text
    links = re.findall(r"\[report\.md\]\(([^)]+)\)", text)
    assert [os.path.normpath(tmp_path / "cmp" / link) for link in links] == [
        str(with_g / "report.md"), str(without_g / "report.md")]
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [m["label"] for m in saved["models"]] == ["UniCodec", "rvq"]
    assert saved["sources"][name]["rvq"]["resynthesis"] == b["resynthesis"]


def test_reports_on_different_data_are_flagged(reports, tmp_path):
    with_g, _ = reports
    report = json.loads((with_g / "metrics.json").read_text())
    report["sources"][0]["data"]["utterances"] -= 1
    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.json").write_text(json.dumps(report))
    text = open(compare_module.compare([f"a={with_g}", f"b={other}"], str(tmp_path / "c")),
                encoding="utf-8").read()
    assert "The reports differ on this source" in text


def test_bad_report_arguments(reports, tmp_path):
    with_g, _ = reports
    with pytest.raises(FileNotFoundError, match="No evaluation report"):
        compare_module.load_report(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="repeat"):
        compare_module.compare([f"x={with_g}", f"x={with_g}"], str(tmp_path / "c"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metrics.json").write_text(json.dumps({"sources": []}))
    with pytest.raises(ValueError, match="no evaluated source"):
        compare_module.load_report(str(empty))
