"""The codec recipe's data pipeline: crops differ between data-loader workers and epochs."""

import json
import os
from types import SimpleNamespace

import soundfile as sf
import speechbrain as sb

from conftest import speechlike
from unicodec.data.codec_pipeline import dataio_prepare


def _datasets(tmp_path):
    wav = os.path.join(tmp_path, "long.wav")
    sf.write(wav, speechlike(16000 * 6, 0).numpy(), 16000)
    entry = {"wav": wav, "duration": 6.0, "spk_id": "s1"}
    for split, count in (("train", 4), ("valid", 1), ("test", 1)):
        with open(os.path.join(tmp_path, f"{split}.json"), "w") as f:
            json.dump({f"{split}{i}": dict(entry) for i in range(count)}, f)
    hparams = {"sample_rate": 16000, "segment_seconds": 0.5, "reference_seconds": 0.5,
               "eval_max_seconds": 2.0, "seed": 1, "output_folder": str(tmp_path),
               "save_folder": str(tmp_path)}
    codec = SimpleNamespace(samples_per_step=640, frame_rate=50.0, hop_length=320)
    return dataio_prepare(hparams, codec)[0]


def _starts(dataset, workers):
    loader = sb.dataio.dataloader.make_dataloader(
        dataset, batch_size=1, num_workers=workers, shuffle=False
    )
    with dataset.output_keys_as(["id", "start"]):
        return [int(batch.start[0]) for batch in loader]


def test_two_workers_and_two_epochs_draw_different_crops(tmp_path):
    sb.utils.seed_everything(1)
    train = _datasets(tmp_path)["train"]
    first, second = _starts(train, 2), _starts(train, 2)
    # four copies of one 6 s utterance: worker 0 crops items 0 and 2, worker 1 items 1, 3
    assert (first[0], first[2]) != (first[1], first[3]), first
    assert first != second, (first, second)
