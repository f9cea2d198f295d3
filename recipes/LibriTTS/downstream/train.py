#!/usr/bin/env python3
"""Downstream tasks on a trained codec's tokens: phone (or character) recognition by CTC
and utterance classification (speaking style, speaker).

The tokens of every utterance are extracted once with
:class:`unicodec.dasb.UniCodecTokenizer` (S, P and G columns on the 50 Hz grid); a task
reads some of the streams (``streams: [S]``, ``[S, P]``, ``[G, P]``...), embeds them with a
table initialised from the codec's codebooks, pools the columns by attention (as DASB
does), runs a small BiLSTM and a head: CTC over phones, or statistics pooling over time
and a classifier. Style is scored on held-out speakers (the test split's); speaker
identity on held-out utterances of the training speakers.

To run (a model folder of the codec recipe, the corpus it was not trained on):
    python recipes/LibriTTS/downstream/train.py recipes/LibriTTS/downstream/hparams/phones.yaml \
        --model_folder results/embedded/model --data_folder data/unseen --streams "[S, P]"
    python recipes/LibriTTS/downstream/train.py \
        recipes/LibriTTS/downstream/hparams/utterance.yaml \
        --model_folder results/embedded/model --data_folder data/unseen --label style

Authors
 * UniCodec authors 2026
"""

import json
import logging
import os
import random
import sys

import speechbrain as sb
import torch
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import if_main_process, run_on_main
from tqdm import tqdm

from unicodec.data.audio import load_audio
from unicodec.dasb import UniCodecTokenizer
from unicodec.data.phones import phone_targets

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from libritts_prepare import prepare_libritts  # noqa: E402

logger = logging.getLogger(__name__)
STREAMS = {"S": "semantic", "P": "paralinguistic", "G": "global"}


def stream_columns(layout, streams):
    """Column indices of the named streams (``S``, ``P``, ``G``) in a tokenizer's
    ``layout`` (``[(stream, codebook), ...]``); a codec without G has no G columns."""
    names = [STREAMS[s.upper()] for s in streams]
    columns = [i for i, (stream, _) in enumerate(layout) if stream in names]
    if not columns:
        present = sorted({stream for stream, _ in layout})
        raise ValueError(f"streams {list(streams)}: this model has {present}")
    return columns


def extract_tokens(hparams, device):
    """Tokens of every utterance of the three manifests, saved once per model."""
    folder = hparams["tokens_folder"]
    done = os.path.join(folder, "done.json")
    if os.path.isfile(done):
        same_model(done, hparams["model_folder"], "tokens_folder")
        return
    os.makedirs(folder, exist_ok=True)
    tokenizer = UniCodecTokenizer(source=hparams["model_folder"], device=device)
    for split in ("train", "valid", "test"):
        with open(os.path.join(hparams["output_folder"], f"{split}.json")) as f:
            entries = json.load(f)
        tokens = {}
        for utt_id, entry in tqdm(entries.items(), desc=f"tokens ({split})"):
            wav = load_audio(entry["wav"], tokenizer.sample_rate)
            tokens[utt_id] = tokenizer.sig_to_tokens(wav[None].to(device))[0].cpu().short()
        torch.save(tokens, os.path.join(folder, f"{split}.pt"))
    torch.save(
        {
            "embeddings": tokenizer.get_pretrained_embeddings().cpu(),
            "layout": tokenizer.layout,
            "vocab_size": tokenizer.vocab_size,
            "describe": tokenizer.describe(),
        },
        os.path.join(folder, "embeddings.pt"),
    )
    with open(done, "w") as f:
        json.dump({"model_folder": os.path.abspath(hparams["model_folder"])}, f)


def same_model(record, model_folder, key):
    """Raises ValueError when the folder of ``record`` holds another model's work."""
    with open(record) as f:
        recorded = json.load(f)["model_folder"]
    if recorded != os.path.abspath(model_folder):
        raise ValueError(
            f"{os.path.dirname(record)} holds the work of the model {recorded}, not of "
            f"{os.path.abspath(model_folder)}: give another --{key} (or --model_name)"
        )


class TokenTaskBrain(sb.Brain):
    """CTC recognition or utterance classification on token embeddings."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        tokens, lens = batch.tokens
        x = self.modules.pooling(self.modules.embedding(tokens))
        h, _ = self.modules.encoder(x, lengths=lens)
        if self.hparams.task == "ctc":
            return F.log_softmax(self.modules.head(h), dim=-1), lens
        if self.hparams.task == "frames":
            return self.modules.head(h), lens
        pooled = self.hparams.time_pooling(h, lens).squeeze(1)
        return self.modules.head(pooled), lens

    def compute_objectives(self, predictions, batch, stage):
        out, lens = predictions
        if self.hparams.task == "ctc":
            targets, target_lens = batch.units
            loss = sb.nnet.losses.ctc_loss(out, targets, lens, target_lens, blank_index=0)
            if stage != sb.Stage.TRAIN:
                hyps = sb.decoders.ctc_greedy_decode(out, lens, blank_id=0)
                self.error_stats.append(batch.id, hyps, targets, target_len=target_lens)
            return loss
        if self.hparams.task == "frames":  # a phone per 50 Hz frame, -100 past the end
            labels, relative = batch.frame_phones
            valid = torch.arange(labels.shape[1], device=labels.device)[None] < (
                relative * labels.shape[1]).round()[:, None]
            labels = labels.masked_fill(~valid, -100)[:, : out.shape[1]]
            out = out[:, : labels.shape[1]]
            loss = F.cross_entropy(out.transpose(1, 2), labels)
            if stage != sb.Stage.TRAIN:
                valid = labels != -100
                self.correct += int(((out.argmax(-1) == labels) & valid).sum())
                self.total += int(valid.sum())
            return loss
        labels = batch.label.data.squeeze(-1)
        loss = F.cross_entropy(out, labels)
        if stage != sb.Stage.TRAIN:
            self.correct += int((out.argmax(-1) == labels).sum())
            self.total += int(labels.numel())
        return loss

    def on_stage_start(self, stage, epoch=None):
        self.error_stats = self.hparams.error_stats()
        self.correct, self.total = 0, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = {"loss": stage_loss}
        if stage != sb.Stage.TRAIN:
            if self.hparams.task == "ctc":
                stats["error_rate"] = self.error_stats.summarize("error_rate") / 100
            elif self.hparams.task == "frames":
                stats["error_rate"] = 1 - self.correct / max(self.total, 1)
            else:
                stats["error_rate"] = 1 - self.correct / max(self.total, 1)
                stats["accuracy"] = self.correct / max(self.total, 1)
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                {"epoch": epoch}, train_stats=self.train_stats, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(meta=stats, min_keys=["error_rate"])
        else:
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )
            self.test_stats = stats


def dataio_prepare(hparams, columns):
    """Datasets whose items hold the chosen token columns and the task's targets."""
    splits = ("train", "valid", "test")
    entries, tokens = {}, {}
    for split in splits:
        with open(os.path.join(hparams["output_folder"], f"{split}.json")) as f:
            entries[split] = json.load(f)
        tokens[split] = torch.load(os.path.join(hparams["tokens_folder"], f"{split}.pt"))
    if hparams["task"] == "classify" and hparams["label"] == "spk_id":
        # speakers are a closed set: held-out utterances of the training speakers
        items = sorted(entries["train"])
        random.Random(hparams["seed"]).shuffle(items)
        cut = max(1, len(items) // 10)
        parts = {"valid": items[:cut], "test": items[cut: 2 * cut], "train": items[2 * cut:]}
        entries = {s: {i: entries["train"][i] for i in parts[s]} for s in splits}
        tokens = {s: tokens["train"] for s in splits}
    datasets = {s: sb.dataio.dataset.DynamicItemDataset(entries[s]) for s in splits}
    index = torch.tensor(columns)

    def token_pipeline_for(split):
        @sb.utils.data_pipeline.takes("id")
        @sb.utils.data_pipeline.provides("tokens")
        def token_pipeline(utt_id):
            return tokens[split][utt_id][:, index].long()

        return token_pipeline

    for split in splits:
        sb.dataio.dataset.add_dynamic_item([datasets[split]], token_pipeline_for(split))
    every = list(datasets.values())
    keys = ["id", "tokens"]
    if hparams["task"] == "ctc":
        if hparams["units"] == "phones":  # the corpus' phone alignment, silences left out

            @sb.utils.data_pipeline.takes("alignment")
            @sb.utils.data_pipeline.provides("unit_list")
            def unit_list(alignment):
                return [p for _, _, p in alignment if p not in ("sil", "")]

        else:  # characters of the transcript (LibriTTS has no phone alignment)

            @sb.utils.data_pipeline.takes("text")
            @sb.utils.data_pipeline.provides("unit_list")
            def unit_list(text):
                return list(text.lower())

        sb.dataio.dataset.add_dynamic_item(every, unit_list)
        encoder = sb.dataio.encoder.CTCTextEncoder()
        encoder.load_or_create(
            path=os.path.join(hparams["save_folder"], f"{hparams['units']}.txt"),
            from_didatasets=[datasets["train"]],
            output_key="unit_list",
            special_labels={"blank_label": 0},
            sequence_input=True,
        )

        @sb.utils.data_pipeline.takes("unit_list")
        @sb.utils.data_pipeline.provides("units")
        def unit_pipeline(units):
            known = [u for u in units if u in encoder.lab2ind]  # units the train split has
            return torch.LongTensor(encoder.encode_sequence(known))

        sb.dataio.dataset.add_dynamic_item(every, unit_pipeline)
        keys.append("units")
    elif hparams["task"] == "frames":
        with open(os.path.join(hparams["data_folder"], "phones.json")) as f:
            inventory = json.load(f)["phone_to_id"]

        @sb.utils.data_pipeline.takes("alignment", "tokens")
        @sb.utils.data_pipeline.provides("frame_phones")
        def frame_pipeline(alignment, frame_tokens):
            frames = phone_targets(alignment, inventory, num_frames=frame_tokens.shape[0])
            return frames.masked_fill(frames == inventory.get("sil", -1), -100)

        sb.dataio.dataset.add_dynamic_item(every, frame_pipeline)
        keys.append("frame_phones")
        return _finish(datasets, keys, len(inventory))
    else:
        label = hparams["label"]
        encoder = sb.dataio.encoder.CategoricalEncoder()
        encoder.load_or_create(
            path=os.path.join(hparams["save_folder"], f"{label}.txt"),
            from_didatasets=[datasets["train"]],
            output_key=label,
        )

        @sb.utils.data_pipeline.takes(label)
        @sb.utils.data_pipeline.provides("label")
        def label_pipeline(value):
            # a class the train split lacks is ignored by the loss, and counts as an error
            return torch.LongTensor([encoder.lab2ind.get(value, -100)])

        sb.dataio.dataset.add_dynamic_item(every, label_pipeline)
        keys.append("label")
    return _finish(datasets, keys, len(encoder))


def _finish(datasets, keys, num_outputs):
    sb.dataio.dataset.set_output_keys(list(datasets.values()), keys)
    return datasets, num_outputs


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    if "cuda" in (run_opts.get("device") or "") and not torch.cuda.is_available():
        run_opts["device"] = "cpu"
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    run_on_main(
        prepare_libritts,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["output_folder"],
            "train_subsets": hparams["train_subsets"],
            "valid_subsets": hparams["valid_subsets"],
            "test_subsets": hparams["test_subsets"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    record = os.path.join(hparams["output_folder"], "model.json")
    if os.path.isfile(record):  # a checkpoint here is that model's: never resume it for another
        same_model(record, hparams["model_folder"], "output_folder")
    elif if_main_process():
        with open(record, "w") as f:
            json.dump({"model_folder": os.path.abspath(hparams["model_folder"])}, f)
    device = run_opts.get("device") or "cpu"
    run_on_main(extract_tokens, args=[hparams, device])
    info = torch.load(os.path.join(hparams["tokens_folder"], "embeddings.pt"))

    columns = stream_columns(info["layout"], hparams["streams"])
    logger.info(f"tokens: {info['describe']}; this task reads columns {columns}")
    datasets, num_outputs = dataio_prepare(hparams, columns)
    vocab = info["vocab_size"]
    rows = torch.cat([info["embeddings"][c * vocab: (c + 1) * vocab] for c in columns])
    modules = {
        "embedding": hparams["embedding"](
            num_columns=len(columns), vocab_size=vocab,
            pretrained=rows if hparams["pretrained_embeddings"] else None,
        ),
        "pooling": hparams["pooling"],
        "encoder": hparams["encoder"],
        "head": hparams["head"](n_neurons=num_outputs),
    }
    hparams["checkpointer"].add_recoverables(modules)
    brain = TokenTaskBrain(
        modules=modules, opt_class=hparams["opt_class"], hparams=hparams,
        run_opts=run_opts, checkpointer=hparams["checkpointer"],
    )
    loader = {"batch_size": hparams["batch_size"]}
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
              train_loader_kwargs={**loader, "shuffle": True}, valid_loader_kwargs=loader)
    brain.evaluate(datasets["test"], min_key="error_rate", test_loader_kwargs=loader)
    if if_main_process():
        result = {
            "task": hparams["task"], "label": hparams.get("label"),
            "units": hparams.get("units"), "streams": list(hparams["streams"]),
            "columns": columns, "model_folder": hparams["model_folder"],
            "test_utterances": len(datasets["test"]),
            **{k: float(v) for k, v in brain.test_stats.items()},
        }
        with open(os.path.join(hparams["output_folder"], "result.json"), "w") as f:
            json.dump(result, f, indent=2)
        logger.info(f"test: {result}")


if __name__ == "__main__":
    main(sys.argv[1:])
