"""Where the bench scripts find deepseek_r1 and the test-model exporters.

    from _paths import ROOT, use_test_helpers, r1_pythonpath
    use_test_helpers()          # tests/python on sys.path (models.py: SPECS, export_model)
    import deepseek_r1 as r1    # the installed package, or the dev build's source tree

The installed package wins: the source tree's python/deepseek_r1 only has `_core` after a dev build
(tools/dev_build.sh links it there), so putting the tree first would break a plain `pip install .`.
The tree is used only when nothing is installed and the tree has a built `_core`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TREE = ROOT / "python"


def _tree_is_built() -> bool:
    return any((_TREE / "deepseek_r1").glob("_core*.so")) or any((_TREE / "deepseek_r1").glob("_core*.pyd"))


def r1_pythonpath() -> list[str]:
    """Paths to prepend so `import deepseek_r1` works in this process and in the workers it starts."""
    if _TREE.as_posix() in sys.path:
        return [_TREE.as_posix()]
    spec = importlib.util.find_spec("deepseek_r1")
    if spec is not None and spec.origin and not Path(spec.origin).is_relative_to(_TREE):
        return []  # installed (pip install .): use it as it is
    if _tree_is_built():
        return [_TREE.as_posix()]
    raise SystemExit(
        "deepseek_r1 is neither installed (pip install .) nor built in the source tree (tools/dev_build.sh)"
    )


def use_r1() -> None:
    for p in reversed(r1_pythonpath()):
        if p not in sys.path:
            sys.path.insert(0, p)


def use_test_helpers() -> None:
    """tests/python (models.py and friends) on sys.path, after deepseek_r1's own location."""
    use_r1()
    helpers = (ROOT / "tests" / "python").as_posix()
    if helpers not in sys.path:
        sys.path.append(helpers)
