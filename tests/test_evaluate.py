"""The evaluation command on a tiny model and a tiny folder of speech-like audio."""

import csv
import json
import os

import pytest
import torch

from conftest import (
    NO_GLOBAL_MODEL_YAML,
    TINY_MODEL_YAML,
    build_codec_without_global,
    build_tiny_codec,
)
from unicodec.evaluation.report import (
    load_codec,
    main,
    read_source,
    select,
    source_name,
    write_example_source,
)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    codec = build_tiny_codec()
    yaml_path = folder / "tiny.yaml"
    yaml_path.write_text(TINY_MODEL_YAML)
    ckpt = folder / "codec.ckpt"
    torch.save(codec.state_dict(), ckpt)
    return codec, str(yaml_path), str(ckpt)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_example_source(str(tmp_path_factory.mktemp("data")), num_speakers=3,
                                utts_per_speaker=4)


def test_read_sources(source, tmp_path):
    items = read_source(source)
    assert len(items) == 12
    assert {i["spk_id"] for i in items} == {"a", "b", "c"}
    assert {i["style"] for i in items} == {"calm", "lively"}
    manifest = {i["id"]: {"wav": i["path"], "duration": 1.0, "spk_id": i["spk_id"],
                          "text": "hello", "language": "en"} for i in items[:3]}
    with open(tmp_path / "test.json", "w") as f:
        json.dump(manifest, f)
    from_json = read_source(str(tmp_path / "test.json"))
    assert [i["id"] for i in from_json] == [i["id"] for i in items[:3]]
    assert from_json[0]["text"] == "hello"
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "duration_s", "sample_rate", "speaker", "language",
                         "transcript", "emotion", "source"])
        writer.writerow([os.path.relpath(items[0]["path"], tmp_path), 1.0, 16000, "spk",
                         "de", "hallo", "anger", "x"])
    from_csv = read_source(str(tmp_path))
    assert from_csv[0]["spk_id"] == "spk" and from_csv[0]["emotion"] == "anger"
    assert os.path.isfile(from_csv[0]["path"])
    with pytest.raises(FileNotFoundError):
        read_source(str(tmp_path / "missing"))


def test_source_names(tmp_path):
    assert source_name("a/b/test.json") == ("test", "a/b/test.json")
    assert source_name("voices=a/b") == ("voices", "a/b")
    odd = tmp_path / "x=y"  # an existing path with "=" is a path, not a name
    odd.mkdir()
    assert source_name(str(odd)) == ("x=y", str(odd))


def test_sources_must_have_distinct_names(model_files, source, tmp_path):
    _, yaml_path, ckpt = model_files
    with pytest.raises(SystemExit, match="share a name"):
        main(["--hparams", yaml_path, "--checkpoint", ckpt, "--data", source,
              "--data", source, "--output", str(tmp_path / "r"), "--no-real"])


def test_select_is_seeded_and_ordered():
    items = list(range(20))
    assert select(items, 5, seed=1) == select(items, 5, seed=1)
    assert select(items, 5, seed=1) == sorted(select(items, 5, seed=1))
    assert select(items, 50) == items


def test_load_codec_from_yaml_and_export(model_files, tmp_path):
    codec, yaml_path, ckpt = model_files
    loaded = load_codec(hparams=yaml_path, checkpoint=ckpt)
    for (name, a), b in zip(codec.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    from unicodec.export import export_model

    folder = export_model(codec, yaml_path, tmp_path / "export")
    exported = load_codec(model=folder)
    assert not exported.training
    reference = codec.state_dict()
    for name, value in exported.state_dict().items():
        assert torch.equal(value.cpu(), reference[name]), name


def test_evaluate_command_writes_a_report(model_files, source, tmp_path):
    _, yaml_path, ckpt = model_files
    out = tmp_path / "report"
    results = main(["--hparams", yaml_path, "--checkpoint", ckpt, "--data", f"voices={source}",
                    "--output", str(out), "--no-real", "--judges", "none",
                    "--max-utterances", "3", "--num-plots", "1", "--vc-pairs", "2"])
    assert len(results) == 1
    result = results[0]
    assert result["name"] == "voices"
    assert result["data"]["utterances"] == 12 and result["data"]["speakers"] == 3
    assert result["resynthesized"] == 3
    assert result["resynthesis"]["mel_distance"] > 0
    assert 0 < result["codebook_usage"]["semantic_usage"] <= 1
    tasks = {(p["task"], p["stream"]) for p in result["probes"]}
    assert ("speaker", "global") in tasks and ("style", "paralinguistic") in tasks
    assert ("f0", "paralinguistic") in tasks
    assert result["voice_conversion"]["pairs"] == 2
    ladder = result["bitrate_ladder"]
    codec = load_codec(hparams=yaml_path, checkpoint=ckpt)
    kp = codec.num_codebooks()["paralinguistic"]
    assert [r["paralinguistic_codebooks"] for r in ladder] == list(range(kp + 1))
    assert [r["bps"] for r in ladder] == [codec.bitrate(num_paralinguistic=k)
                                          for k in range(kp + 1)]
    assert all(r["utterances"] == 3 for r in ladder)
    # the top rung is the full bitrate: the same decoding as the main metrics
    assert ladder[-1]["metrics"]["mel_distance"] == pytest.approx(
        result["resynthesis"]["mel_distance"], rel=1e-5)
    assert ladder[0]["metrics"]["mel_distance"] != ladder[-1]["metrics"]["mel_distance"]
    assert (out / "quality_bitrate.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    for heading in ("## Resynthesis", "## Quality against bitrate", "## Codebook usage",
                    "## Disentanglement probes", "## Voice conversion", "## Spectrograms"):
        assert heading in report
    assert (out / result["spectrograms"][0]).is_file()
    assert (out / result["probe_plot"]).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sources"][0]["name"] == result["name"]


def test_a_codec_without_global_tokens_is_evaluated_on_s_and_p(source, tmp_path):
    torch.manual_seed(0)
    codec = build_codec_without_global().eval()
    hparams = tmp_path / "no_global.yaml"
    hparams.write_text(NO_GLOBAL_MODEL_YAML)
    ckpt = tmp_path / "codec.ckpt"
    torch.save(codec.state_dict(), ckpt)
    output = tmp_path / "report"
    main(["--hparams", str(hparams), "--checkpoint", str(ckpt), "--data", source,
          "--output", str(output), "--judges", "none", "--no-real", "--vc-pairs", "2"])
    metrics = json.loads((output / "metrics.json").read_text())
    result = metrics["sources"][0] if "sources" in metrics else metrics[next(iter(metrics))]
    streams = {p["stream"] for p in result["probes"]}
    assert streams == {"semantic", "paralinguistic"}
    assert "voice_conversion" not in result
    report = (output / "report.md").read_text()
    assert "| - | - |" in report  # no G usage
    assert len(result["bitrate_ladder"]) == codec.num_codebooks()["paralinguistic"] + 1
