"""The package's layering: data flows wav -> encoder -> quantizers -> decoder -> wav in the
lobes; losses, evaluation, data and recipes stand beside them, never inside."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "unicodec")
CORE = ["unicodec/tokens.py", "unicodec/lengths.py", "unicodec/export.py",
        "unicodec/inference.py", "unicodec/token_file.py", "unicodec/cli.py",
        "unicodec/dasb.py", "unicodec/features.py", "unicodec/windowing.py",
        "unicodec/swapping.py"]


def imported_modules(path):
    """Every module a file imports (absolute names), at any depth of the file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def files_under(folder):
    for base, _, files in os.walk(os.path.join(ROOT, folder)):
        for name in files:
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(base, name), ROOT)


def forbidden(path, prefixes):
    return sorted(n for n in imported_modules(os.path.join(ROOT, path))
                  if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("path", sorted(files_under("unicodec/lobes")))
def test_lobes_import_no_losses_evaluation_data_or_recipes(path):
    bad = forbidden(path, ["unicodec.losses", "unicodec.evaluation", "unicodec.data",
                           "recipes", "libritts_prepare"])
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", CORE + sorted(files_under("unicodec/lobes"))
                         + sorted(files_under("unicodec/losses")))
def test_the_core_never_imports_evaluation(path):
    bad = forbidden(path, ["unicodec.evaluation"])
    assert not bad, f"{path} imports {bad}"


def test_evaluation_lives_in_its_package():
    top = sorted(f for f in os.listdir(PACKAGE) if f.endswith(".py"))
    for name in ("metrics.py", "judges.py", "probes.py", "bitrate_ladder.py", "evaluate.py",
                 "compare.py", "codec2.py"):
        assert name not in top, f"unicodec/{name} belongs in unicodec/evaluation/"


def test_the_readme_concept_table_names_every_module():
    """Every module of the package appears in README's concept table (by its path, or by
    its folder's ``{a,b}`` group), and every path the table names exists."""
    import re

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    table = readme[readme.index("| concept | file |"):]
    table = table[: table.index("\n\n")]
    named = set()
    for cell in re.findall(r"`((?:unicodec|recipes)/[^`]*)`", table):
        group = re.match(r"(.*)\{(.*)\}(.*)", cell)
        if group:
            named.update(group[1] + part + group[3] for part in group[2].split(","))
        else:
            named.add(cell)
    for path in named:
        assert os.path.exists(os.path.join(ROOT, path)), f"README names {path}, not in the tree"
    folders = {p.rstrip("/") for p in named if p.endswith("/")}
    missing = [p for p in files_under("unicodec")
               if not p.endswith("__init__.py") and not p.endswith("__main__.py")
               and p not in named and os.path.dirname(p) not in folders]
    assert not missing, f"README's concept table does not name {missing}"
