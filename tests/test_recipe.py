"""The LibriTTS recipe: YAML keys, training, SIGKILL + resume, DDP on gloo, export."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from unicodec.data.corpus import generate_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "recipes", "LibriTTS", "train.py")
CONFIGS = ["hparams/unicodec.yaml", "hparams/unicodec_cpu.yaml",
           "hparams/baselines/rvq_cpu.yaml", "hparams/baselines/speechtokenizer_cpu.yaml"]

# (pattern, replacement, expected count) turning the CPU configs into test-sized ones
TINY_MODEL = [
    (r"^frame_dim: 128", "frame_dim: 32", 1),
    (r"^global_dim: 128", "global_dim: 16", 1),
    (r"^(\w+_codebook_size): \d+", r"\1: 16", 3),
    (r"^    dim: 192$", "    dim: 32", 2),
    (r"^    dim: 128$", "    dim: 32", 1),
    (r"^    intermediate_dim: 576$", "    intermediate_dim: 64", 2),
    (r"^    num_blocks: [24]$", "    num_blocks: 1", 3),
    (r"^    num_heads: 4$", "    num_heads: 2", 2),
    (r"^    attention_channels: 64$", "    attention_channels: 16", 1),
]
TINY_FULL_MODEL = [
    (r"^frame_dim: 256", "frame_dim: 32", 1),
    (r"^global_dim: 256", "global_dim: 16", 1),
    (r"^(\w+_codebook_size): \d+", r"\1: 16", 3),
    (r"^    dim: 384$", "    dim: 32", 2),
    (r"^    dim: 256$", "    dim: 32", 1),
    (r"^    intermediate_dim: 1152$", "    intermediate_dim: 64", 2),
    (r"^    num_blocks: [248]$", "    num_blocks: 1", 3),
    (r"^    num_heads: 6$", "    num_heads: 2", 2),
    (r"^    attention_channels: 128$", "    attention_channels: 16", 1),
]
TINY_FULL_TRAINING = [
    (r"channels: \[32, 128, 512, 1024, 1024\]", "channels: [4, 8]", 1),
    (r"n_ffts: \[2048, 1024, 512, 256, 128\]", "n_ffts: [512, 256]", 1),
    (r"^            channels: 32$", "            channels: 4", 1),
    (r"hidden_size: 256", "hidden_size: 16", 2),
]
TINY_BASELINE_MODEL = [
    (r"^frame_dim: 128", "frame_dim: 32", 1),
    (r"^(\w+_codebook_size): \d+", r"\1: 16", 2),
    (r"^    dim: 192$", "    dim: 32", 2),
    (r"^    intermediate_dim: 576$", "    intermediate_dim: 64", 2),
    (r"^    num_blocks: 4$", "    num_blocks: 1", 2),
    (r"^    num_heads: 4$", "    num_heads: 2", 2),
]
TINY_TRAINING = [
    (r"channels: \[16, 32, 64, 128\]", "channels: [4, 8]", 1),
    (r"^            channels: 8$", "            channels: 4", 1),
    (r"hidden_size: 128", "hidden_size: 16", 2),
]


def _rewrite(src, dst, rules):
    with open(src) as f:
        text = f.read()
    for pattern, replacement, count in rules:
        text, done = re.subn(pattern, replacement, text, flags=re.M)
        assert done == count, f"{pattern} matched {done} times in {src}, expected {count}"
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "w") as f:
        f.write(text)


@pytest.fixture(scope="module")
def tiny_recipe(tmp_path_factory):
    """A tiny synthetic corpus and test-sized copies of hparams/unicodec_cpu.yaml."""
    root = tmp_path_factory.mktemp("recipe")
    corpus = root / "corpus"
    generate_corpus(str(corpus), minutes=1.0, seed=3, seconds_per_speaker=6, progress=False)
    hparams = root / "hparams" / "unicodec_cpu.yaml"
    _rewrite(os.path.join(ROOT, "hparams/models/unicodec_cpu.yaml"),
             str(root / "hparams" / "models" / "unicodec_cpu.yaml"), TINY_MODEL)
    _rewrite(os.path.join(ROOT, "hparams/unicodec_cpu.yaml"), str(hparams), TINY_TRAINING)
    return {"root": root, "corpus": str(corpus), "hparams": str(hparams)}


def _train_command(recipe, output, *extra):
    return [
        str(recipe["hparams"]),
        "--data_folder", recipe["corpus"],
        "--output_folder", str(output),
        "--batch_size", "2",
        "--segment_seconds", "0.8",
        "--reference_seconds", "0.8",
        "--adversarial_segment_seconds", "0.32",
        "--eval_max_seconds", "2",
        "--num_samples_to_write", "1",
        "--noprogressbar",
        *extra,
    ]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _checkpoints(save_folder):
    if not os.path.isdir(save_folder):
        return []
    return sorted(d for d in os.listdir(save_folder) if d.startswith("CKPT"))


def _brain_state(ckpt_dir):
    with open(os.path.join(ckpt_dir, "brain.ckpt")) as f:
        return yaml.safe_load(f)


def _is_intra_epoch(ckpt_dir):
    with open(os.path.join(ckpt_dir, "CKPT.yaml")) as f:
        return "INTRA_EPOCH" in f.read().upper()


@pytest.mark.parametrize("config", CONFIGS)
def test_every_top_level_key_is_used(config):
    with open(os.path.join(ROOT, config)) as f:
        text = f.read()
    script = ""
    for path in (TRAIN, os.path.join(ROOT, "unicodec", "data", "codec_pipeline.py"),
                 os.path.join(ROOT, "unicodec", "training.py"),
                 os.path.join(ROOT, "unicodec", "losses", "codec_terms.py"),
                 os.path.join(ROOT, "recipes", "LibriTTS", "libritts_prepare.py")):
        with open(path) as f:  # the recipe, its data pipeline and helpers read the keys
            script += f.read()
    try:  # SpeechBrain >= 1.1
        from speechbrain.core import RunOptions

        run_options = set(RunOptions().as_dict())
    except ImportError:  # SpeechBrain 1.0.x
        from speechbrain.core import run_opt_defaults

        run_options = set(run_opt_defaults)
    keys = re.findall(r"^([A-Za-z_]\w*):", text, flags=re.M)
    assert len(keys) > 20
    unused = []
    for key in keys:
        used = (
            key.startswith("__")  # evaluated at load time (e.g. the seed)
            or key in run_options  # read by speechbrain.Brain
            or re.search(rf"<{key}[>\[]", text)  # referenced by another key
            or f'"{key}"' in script
            or re.search(rf"\.{key}\b", script)
        )
        if not used:
            unused.append(key)
    assert not unused, f"{config}: keys never used: {unused}"


def _recipe_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("codec_recipe_train", TRAIN)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(TRAIN))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.dirname(TRAIN))
    return module


@pytest.mark.parametrize("config", CONFIGS)
def test_loss_weights_name_only_training_terms(config):
    recipe = _recipe_module()
    with open(os.path.join(ROOT, config)) as f:
        weights = yaml.safe_load(re.sub(r"!\S+", "", f.read()))["loss_weights"]
    recipe.check_loss_weights(weights)  # the shipped configs weigh known terms only
    with pytest.raises(ValueError, match="'mell'"):
        recipe.check_loss_weights({**weights, "mell": 15.0})


def test_a_misspelt_loss_weight_stops_the_recipe(tiny_recipe, tmp_path):
    command = [sys.executable, TRAIN, *_train_command(tiny_recipe, tmp_path / "run"),
               "--loss_weights", "{mel: 15.0, pich: 1.0}"]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "unknown term(s) 'pich'" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_data_folder_stops_the_recipe_in_one_line(tmp_path):
    missing = tmp_path / "no_such_corpus"
    command = [sys.executable, TRAIN, os.path.join(ROOT, "hparams", "unicodec_cpu.yaml"),
               "--data_folder", str(missing), "--output_folder", str(tmp_path / "run")]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("train.py: error: ") and str(missing) in last
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_data_folder_stops_every_rank_in_one_line(tmp_path):
    # the main process prepares the data; the others learn its error from it instead of
    # waiting on a process that has left
    missing = tmp_path / "no_such_corpus"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master_port", str(28500 + os.getpid() % 1000), TRAIN,
               os.path.join(ROOT, "hparams", "unicodec_cpu.yaml"), "--data_folder", str(missing),
               "--output_folder", str(tmp_path / "run"), "--distributed_backend", "gloo"]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("train.py: error: ")]
    # (torchrun stops a rank once another has failed: both print it, or the last one is cut)
    assert errors and all(str(missing) in line for line in errors), done.stderr[-3000:]
    assert "[rank1]: Traceback" not in done.stderr and "[rank0]: Traceback" not in done.stderr


def test_training_is_killed_and_resumes_without_repeating_work(tiny_recipe, tmp_path):
    output = tmp_path / "run"
    save = output / "save"
    command = [sys.executable, TRAIN, *_train_command(
        tiny_recipe, output, "--number_of_epochs", "3", "--ckpt_interval_steps", "2",
        "--adversarial_start_epoch", "0", "--log_interval_steps", "2",
    )]
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(command, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                            cwd=ROOT)
    killed_at = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        intra = [c for c in _checkpoints(save) if _is_intra_epoch(save / c)]
        # the schedulers are registered last: their files close a complete checkpoint
        if intra and os.path.isfile(save / intra[-1] / "scheduler_discriminator.ckpt"):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_at = _brain_state(save / intra[-1])["step"]
            break
        time.sleep(0.05)
    log.close()
    assert killed_at is not None, (tmp_path / "first.log").read_text()[-3000:]
    assert not (output / "test_metrics.json").exists()
    # a save interrupted by the kill: a newer folder holding only the first files
    partial = save / "CKPT+9999-12-31+23-59-59+00"
    partial.mkdir()
    for name in ("CKPT.yaml", "brain.ckpt"):
        shutil.copy(save / intra[-1] / name, partial / name)

    resumed = subprocess.run(command, env=_env(), capture_output=True, text=True, cwd=ROOT,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "is incomplete" in resumed.stdout + resumed.stderr
    assert not partial.exists()
    # exactly three epochs of optimizer steps in all: the resumed run skipped finished ones
    with open(output / "train.json") as f:
        num_train = len(yaml.safe_load(f))
    steps_per_epoch = num_train // 2  # batch_size 2, drop_last
    final = [c for c in _checkpoints(save) if not _is_intra_epoch(save / c)]
    assert 1 <= len(final) <= 2  # the best (valid mel) and the most recent
    steps = max(_brain_state(save / c)["optimizer_step"] for c in final)
    assert steps == 3 * steps_per_epoch
    assert 0 < killed_at < steps_per_epoch
    # every term is logged by name, and the end products exist
    with open(output / "train_log.txt") as f:
        train_log = f.read()
    for term in ("mel", "stft", "commitment", "phone", "speaker_adversary",
                 "mutual_information", "prosody", "adversarial",
                 "feature_matching", "discriminator"):
        assert re.search(rf"train {term}: [-0-9.e+]+", train_log), term
    assert "speaker_global" not in train_log  # no speaker classifier on G in this config
    # and every 2 optimizer steps in step_log.txt, by step, the resumed run continuing
    step_log = (output / "step_log.txt").read_text().splitlines()
    logged = [int(re.search(r"step: (\d+)", line).group(1)) for line in step_log]
    assert logged and all(step % 2 == 0 for step in logged), logged
    assert logged[-1] == steps - steps % 2
    for term in ("mel", "phone", "generator", "discriminator"):
        assert re.search(rf"train {term}: [-0-9.e+]+", step_log[-1]), term
    metrics = yaml.safe_load((output / "test_metrics.json").read_text())
    assert metrics["mel_distance"] > 0
    assert 0 < metrics["semantic_usage"] <= 1
    samples = list((output / "samples").rglob("*"))
    assert any(p.suffix == ".png" for p in samples)
    assert any(p.name.endswith("_rebuilt.wav") for p in samples)
    assert (output / "model" / "hyperparams.yaml").is_file()
    assert (output / "model" / "codec.ckpt").is_file()


def test_two_gloo_ranks_train_and_save_one_checkpoint(tiny_recipe, tmp_path):
    output = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_port", str(29500 + os.getpid() % 1000), TRAIN,
        *_train_command(tiny_recipe, output, "--number_of_epochs", "1",
                        "--adversarial_start_epoch", "0", "--distributed_backend", "gloo",
                        "--log_interval_steps", "1"),
    ]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    save = output / "save"
    checkpoints = _checkpoints(save)
    assert len(checkpoints) == 1, checkpoints
    ckpt = save / checkpoints[0]
    with open(output / "train.json") as f:
        num_train = len(yaml.safe_load(f))
    # each rank takes half the batches of an epoch
    assert _brain_state(ckpt)["optimizer_step"] == num_train // 2 // 2
    # the step log is written once per step (by the main process), not once per rank
    step_log = (output / "step_log.txt").read_text().splitlines()
    assert len(step_log) == num_train // 2 // 2, step_log
    state = torch.load(ckpt / "codec.ckpt", map_location="cpu")
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    # the test split, sharded across the ranks, is scored whole: every utterance once
    metrics = yaml.safe_load((output / "test_metrics.json").read_text())
    with open(output / "test.json") as f:
        num_test = len(yaml.safe_load(f))
    assert metrics["num_utterances"] == num_test, metrics
    shutil.rmtree(output, ignore_errors=True)


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "online"])
def test_full_config_distills_a_local_teacher(tiny_recipe, tmp_path, cached):
    """hparams/unicodec.yaml, shrunk: an SSL teacher built here, run online (the default)
    or with its features cached once."""
    from conftest import save_tiny_ssl_model

    teacher = tmp_path / "teacher"
    save_tiny_ssl_model(str(teacher), model_type="hubert", hidden_size=32, num_layers=2)
    hparams = tmp_path / "hparams" / "unicodec.yaml"
    _rewrite(os.path.join(ROOT, "hparams/models/unicodec.yaml"),
             str(tmp_path / "hparams" / "models" / "unicodec.yaml"), TINY_FULL_MODEL)
    _rewrite(os.path.join(ROOT, "hparams/unicodec.yaml"), str(hparams), TINY_FULL_TRAINING)
    output = tmp_path / "run"
    recipe = dict(tiny_recipe, hparams=str(hparams))
    command = [sys.executable, TRAIN, *_train_command(
        recipe, output, "--number_of_epochs", "1", "--num_workers", "0",
        "--train_subsets", "[train-synth]", "--valid_subsets", "[dev-synth]",
        "--test_subsets", "[test-synth]", "--num_speakers", "64",
        "--teacher_source", str(teacher), "--teacher_layer", "1", "--teacher_dim", "32",
        *(["--teacher_cache_folder", str(output / "teacher_cache")] if cached else []),
    )]
    env = dict(_env(), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    train_log = (output / "train_log.txt").read_text()
    for term in ("distillation", "adversarial", "mutual_information", "speaker_global"):
        assert re.search(rf"train {term}: [-0-9.e+]+", train_log), term
    assert "train phone" not in train_log  # no phone head in this config
    cache = output / "teacher_cache"
    if not cached:
        assert not cache.exists()
        return
    # one cached feature file per utterance of the three splits, under one fingerprint
    fingerprints = os.listdir(cache)
    assert len(fingerprints) == 1
    cached = list((cache / fingerprints[0]).iterdir())
    splits = sum(len(yaml.safe_load((output / f"{s}.json").read_text()))
                 for s in ("train", "valid", "test"))
    assert len(cached) == splits


@pytest.mark.parametrize("baseline, terms, absent", [
    ("rvq_cpu", ["mel", "adversarial"], ["phone", "speaker_global", "mutual_information"]),
    ("speechtokenizer_cpu", ["mel", "phone"], ["speaker_global", "mutual_information"]),
])
def test_baselines_train_with_the_same_recipe(tiny_recipe, tmp_path, baseline, terms, absent):
    """The baselines: the same lobes without G (and without its losses)."""
    root = tmp_path / "hparams"
    _rewrite(os.path.join(ROOT, "hparams/models/baseline_cpu.yaml"),
             str(root / "models" / "baseline_cpu.yaml"), TINY_BASELINE_MODEL)
    training = [rule for rule in TINY_TRAINING if "hidden_size" not in rule[0]]
    _rewrite(os.path.join(ROOT, f"hparams/baselines/{baseline}.yaml"),
             str(root / "baselines" / f"{baseline}.yaml"), training)
    output = tmp_path / "run"
    recipe = dict(tiny_recipe, hparams=str(root / "baselines" / f"{baseline}.yaml"))
    command = [sys.executable, TRAIN, *_train_command(
        recipe, output, "--number_of_epochs", "1", "--adversarial_start_epoch", "0")]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    train_log = (output / "train_log.txt").read_text()
    for term in terms:
        assert re.search(rf"train {term}: [-0-9.e+]+", train_log), term
    for term in absent:
        assert f"train {term}:" not in train_log, term
    metrics = yaml.safe_load((output / "test_metrics.json").read_text())
    assert "global_usage" not in metrics and metrics["semantic_usage"] > 0
    assert (output / "model" / "codec.ckpt").is_file()


def test_the_generator_step_reuses_the_discriminators_real_features(tmp_path):
    """The discriminator step's features of the real window (same weights, same window)
    give the generator step the same adversarial and feature-matching terms as running
    the discriminators on the real audio again."""
    import speechbrain as sb
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.dataio.batch import PaddedBatch

    from conftest import speechlike

    recipe = _recipe_module()
    with open(os.path.join(ROOT, "hparams", "unicodec_cpu.yaml")) as f:
        hparams = load_hyperpyyaml(f, {"data_folder": str(tmp_path),
                                       "output_folder": str(tmp_path)})
    brain = recipe.UniCodecBrain(modules=hparams["modules"], hparams=hparams,
                                 run_opts={"device": "cpu"}, checkpointer=None)
    hparams["epoch_counter"].current = hparams["adversarial_start_epoch"] + 1
    brain.on_stage_start(sb.Stage.TRAIN, hparams["epoch_counter"].current)
    items = [{"id": f"u{i}", "sig": speechlike(16000, i), "ref": speechlike(16000, 9 + i),
              "spk_id_encoded": torch.LongTensor([i]),
              "phones": torch.zeros(50, dtype=torch.long)} for i in range(2)]
    batch = PaddedBatch(items)
    torch.manual_seed(0)
    brain.modules.train()
    with torch.no_grad():
        out = brain.compute_forward(batch, sb.Stage.TRAIN)
        brain.adversarial_start = None
        wav = batch.sig.data
        _, feats = brain.modules.discriminators(
            brain._adversarial_crop(torch.cat([wav, out.wav]))
        )
        brain.real_features = [[f[:2] for f in fs] for fs in feats]
        reused = brain._generator_terms(out, batch, sb.Stage.TRAIN)
        brain.real_features = None
        again = brain._generator_terms(out, batch, sb.Stage.TRAIN)
    for term in ("adversarial", "feature_matching"):
        assert torch.allclose(reused[term], again[term], rtol=1e-5, atol=1e-7), term
