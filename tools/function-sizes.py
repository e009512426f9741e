"""Functions of imcli/ longer than a limit, longest first: python tools/function-sizes.py [LINES]

Exits 1 when there is one (CI runs it: no function of imcli/ is over 60 lines).

Lines are counted from the ``def`` (decorators excluded) to the function's last line,
docstring and comments included. Complexity is measured by ruff's C901 (mccabe):
``ruff check imcli --select C901 --config 'lint.mccabe.max-complexity = 15'``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 60
found = []
for path in sorted((ROOT / "imcli").rglob("*.py")):
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append((length, f"{path.relative_to(ROOT)}:{node.lineno}", node.name))
for length, where, name in sorted(found, reverse=True):
    print(f"{length:4d}  {where}  {name}")
print(f"{len(found)} functions over {limit} lines")
sys.exit(1 if found else 0)
