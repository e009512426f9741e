"""Regenerate the support matrix in README.md from the code: python tools/update-readme-matrix.py"""

import re
from pathlib import Path

from imcli.cli.platforms_cmd import markdown_table

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
new = re.sub(
    r"<!-- matrix:start -->\n.*?\n<!-- matrix:end -->",
    lambda m: "<!-- matrix:start -->\n" + markdown_table() + "\n<!-- matrix:end -->",
    text,
    flags=re.S,
)
readme.write_text(new)
