"""The downstream recipe on codec tokens: extraction once, CTC and classification runs."""

import json
import os
import subprocess
import sys

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from unicodec.data.corpus import generate_corpus
from unicodec.export import export_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(ROOT, "recipes", "LibriTTS", "downstream")
MODEL_YAML = os.path.join(ROOT, "hparams", "models", "unicodec_cpu.yaml")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("downstream")
    corpus = root / "corpus"
    generate_corpus(str(corpus), minutes=1.0, seed=5, seconds_per_speaker=6, progress=False)
    torch.manual_seed(0)
    with open(MODEL_YAML) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    export_model(codec, MODEL_YAML, str(root / "model"))
    return root, str(corpus), str(root / "model")


def _run(hparams, root, corpus, model, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, os.path.join(RECIPE, "train.py"), os.path.join(RECIPE, "hparams", hparams),
           "--model_folder", model, "--data_folder", corpus,
           "--tokens_folder", str(root / "tokens"), "--number_of_epochs", "1",
           "--noprogressbar", *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_phone_recognition_on_s_and_p(setup):
    root, corpus, model = setup
    out = root / "phones"
    _run("phones.yaml", root, corpus, model, "--streams", "[S, P]", "--output_folder", str(out))
    result = json.load(open(out / "result.json"))
    assert result["task"] == "ctc" and result["columns"] == [0, 1, 2]
    assert 0 <= result["error_rate"] <= 1.5
    # the tokens were extracted once, with the codebooks for the embedding table
    info = torch.load(root / "tokens" / "embeddings.pt")
    assert info["describe"] == "S 0, P 1-2, G 3-142"  # G: 140 tokens
    train = torch.load(root / "tokens" / "train.pt")
    assert all(t.shape[1] == 143 for t in train.values())


def test_phone_per_frame_from_s(setup):
    root, corpus, model = setup
    out = root / "frames"
    _run("phones.yaml", root, corpus, model, "--task", "frames", "--output_folder", str(out))
    result = json.load(open(out / "result.json"))
    assert result["task"] == "frames" and result["columns"] == [0]
    assert 0 <= result["error_rate"] <= 1


@pytest.mark.parametrize("label,streams,columns", [
    ("style", "[G, P]", list(range(1, 143))),
    ("spk_id", "[S]", [0]),
])
def test_utterance_classification(setup, label, streams, columns):
    root, corpus, model = setup
    out = root / f"{label}"
    _run("utterance.yaml", root, corpus, model, "--label", label, "--streams", streams,
         "--output_folder", str(out))
    result = json.load(open(out / "result.json"))
    assert result["task"] == "classify" and result["columns"] == columns
    assert 0 <= result["accuracy"] <= 1 and result["test_utterances"] > 0


def test_stream_names():
    import importlib.util

    spec = importlib.util.spec_from_file_location("downstream_train", os.path.join(RECIPE, "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stream_columns = module.stream_columns

    layout = [("semantic", 0), ("paralinguistic", 0), ("paralinguistic", 1)]
    assert stream_columns(layout, ["S", "P"]) == [0, 1, 2]
    assert stream_columns(layout, ["G", "P"]) == [1, 2]  # no G: P alone
    with pytest.raises(ValueError, match="streams"):
        stream_columns(layout, ["G"])


def test_another_model_in_the_same_folders_is_refused(setup, tmp_path):
    root, corpus, model = setup
    other = tmp_path / "other_model"
    import shutil

    shutil.copytree(model, other)
    out = root / "phones"  # test_phone_recognition_on_s_and_p's run of `model`
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, os.path.join(RECIPE, "train.py"), os.path.join(RECIPE, "hparams", "phones.yaml"),
         "--model_folder", str(other), "--data_folder", corpus, "--tokens_folder",
         str(root / "tokens"), "--output_folder", str(out), "--number_of_epochs", "1"],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "holds the work of the model" in done.stdout + done.stderr
