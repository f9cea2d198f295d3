"""Every module of the package imports with the installed SpeechBrain (1.0.x or 1.1)."""

import importlib
import pkgutil

import pytest

import unicodec



def all_modules():
    return sorted(name for _, name, _ in pkgutil.walk_packages(unicodec.__path__, "unicodec."))


@pytest.mark.parametrize("name", all_modules())
def test_module_imports(name):
    """Each module imports first, before any other of the package (an import cycle that a
    lucky order hides fails here; torch and SpeechBrain stay loaded)."""
    import sys

    saved = {k: v for k, v in sys.modules.items() if k == "unicodec" or k.startswith("unicodec.")}
    for key in saved:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    finally:
        for key in [k for k in sys.modules if k == "unicodec" or k.startswith("unicodec.")]:
            del sys.modules[key]
        sys.modules.update(saved)


def test_every_subpackage_is_walked():
    names = all_modules()
    for package in ("unicodec.lobes", "unicodec.losses", "unicodec.data"):
        assert any(name.startswith(package + ".") for name in names), package


def test_speechbrain_teacher_wrapper_imports():
    pytest.importorskip("transformers")
    from unicodec.lobes.teachers import _frozen_ssl_class

    assert _frozen_ssl_class().__name__ == "FrozenSSL"
