"""Export a trained UniCodec as a folder that SpeechBrain loads offline.

The folder holds three files:

- ``hyperparams.yaml``: the model-only YAML (its ``codec`` key builds the model) copied
  verbatim, followed by a ``modules`` entry and a SpeechBrain ``pretrainer`` whose
  loadable ``codec`` is read from ``<folder>/codec.ckpt``;
- ``codec.ckpt``: the codec's ``state_dict``;
- ``custom.py``: imports :class:`unicodec.inference.UniCodecInterface` from the
  installed package, for ``foreign_class``.

Load it with::

    from speechbrain.inference.interfaces import foreign_class
    codec = foreign_class(source="/abs/or/relative/folder", pymodule_file="custom.py",
                          classname="UniCodecInterface")

or :func:`unicodec.inference.load_model`. The pretrainer names no path for the
checkpoint: SpeechBrain then fetches ``codec.ckpt`` from the ``source`` folder
(``collect_files(default_source=source)``), so the folder can be moved or copied and
loaded from any working directory. Without a ``savedir`` nothing is linked or copied;
with one, SpeechBrain puts symlinks to the three files there. The checkpoint is loaded
strictly (:func:`load_checkpoint`): a YAML that builds another architecture is an error,
not a silent partial load.

Authors
 * UniCodec authors 2026
"""

import logging
import os

import torch
from hyperpyyaml import load_hyperpyyaml

logger = logging.getLogger(__name__)

HPARAMS_FILE = "hyperparams.yaml"
CHECKPOINT_FILE = "codec.ckpt"
INTERFACE_FILE = "custom.py"

INFERENCE_YAML = """

# ############################################################################
# Inference (appended by unicodec.export.export_model). Load this folder with
#   speechbrain.inference.interfaces.foreign_class(source=<this folder>,
#       pymodule_file="custom.py", classname="UniCodecInterface")
# The checkpoint is fetched as <source>/codec.ckpt, the pretrainer's default
# source, so the folder can be moved.
# ############################################################################

modules:
    codec: !ref <codec>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        codec: !ref <codec>
    custom_hooks:
        codec: !name:unicodec.export.load_checkpoint
"""

INTERFACE_PY = '''"""UniCodec inference interface for speechbrain's foreign_class.

The implementation lives in the installed ``unicodec`` package.
"""

from unicodec.inference import UniCodecInterface  # noqa: F401
'''


def load_checkpoint(codec, path):
    """Loads a codec ``state_dict`` strictly (the Pretrainer's hook for ``codec``).

    Arguments
    ---------
    codec : torch.nn.Module
        The model built by the YAML.
    path : str or os.PathLike
        The checkpoint.

    Raises
    ------
    ValueError
        Naming the file, if the checkpoint does not fit the model.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        codec.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"Checkpoint {path} does not fit the model that {HPARAMS_FILE} builds: {err}"
        ) from err


def _check_architecture(codec, yaml_text, hparams_file):
    """Builds the YAML's codec and checks that the codec's state_dict fits it."""
    built = load_hyperpyyaml(yaml_text)
    if "codec" not in built:
        raise ValueError(f"{hparams_file} has no `codec` key")
    for key in ("modules", "pretrainer"):
        if key in built:
            raise ValueError(
                f"{hparams_file} already defines `{key}`: give the model-only YAML"
            )
    try:
        built["codec"].load_state_dict(codec.state_dict(), strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"{hparams_file} builds another architecture than the codec to export: {err}"
        ) from err


def export_model(codec, model_hparams_file, output_dir, check=True):
    """Writes an inference folder for ``codec`` (see the module docstring).

    Arguments
    ---------
    codec : UniCodec
        The trained model.
    model_hparams_file : str or os.PathLike
        The model-only HyperPyYAML that built ``codec`` (its ``codec`` key).
    output_dir : str or os.PathLike
        The folder to write (created; existing files of the same names are replaced).
    check : bool
        Build the YAML's model and check that the state_dict fits it exactly.

    Returns
    -------
    str
        The absolute path of the folder.

    Raises
    ------
    ValueError
        If the YAML has no ``codec`` key, already defines ``modules`` or ``pretrainer``,
        or builds another architecture.
    """
    with open(model_hparams_file, encoding="utf-8") as f:
        yaml_text = f.read()
    if check:
        _check_architecture(codec, yaml_text, model_hparams_file)
    output_dir = os.path.abspath(os.fspath(output_dir))
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, HPARAMS_FILE), "w", encoding="utf-8") as f:
        f.write(yaml_text + ("" if yaml_text.endswith("\n") else "\n") + INFERENCE_YAML)
    state = {k: v.detach().cpu() for k, v in codec.state_dict().items()}
    torch.save(state, os.path.join(output_dir, CHECKPOINT_FILE))
    with open(os.path.join(output_dir, INTERFACE_FILE), "w", encoding="utf-8") as f:
        f.write(INTERFACE_PY)
    logger.info("Exported UniCodec (%s) to %s", model_hparams_file, output_dir)
    return output_dir
