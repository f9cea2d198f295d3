"""Remove torchaudio's compiled libraries when they cannot load beside the installed torch.

The torchaudio wheels on PyPI for Linux x86_64 are CUDA builds. Beside a CPU build of
torch their ``lib/*.so`` files fail to load, which makes ``import torchaudio`` (and so
``import speechbrain``) raise ``OSError``. Without those files torchaudio falls back to
its pure-Python parts (transforms, functional.resample, the wav2vec2 family), which is
all UniCodec uses. Nothing is removed where the libraries load.
"""

import ctypes
import importlib.util
import pathlib
import sys

import torch  # noqa: F401  (the libraries link against torch's)


def main():
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        print("torchaudio is not installed; nothing to do")
        return 0
    lib_dir = pathlib.Path(spec.origin).parent / "lib"
    broken = []
    for so in sorted(lib_dir.glob("*.so")):
        try:
            ctypes.CDLL(str(so))
        except OSError:
            broken.append(so)
    if not broken:
        print("torchaudio libraries load; nothing to do")
        return 0
    for so in lib_dir.glob("*.so"):
        so.unlink()
    print(f"removed {len(broken)} torchaudio libraries that cannot load beside this torch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
