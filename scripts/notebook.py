"""Opens a notebook in JupyterLab: `python3 scripts/notebook.py [NOTEBOOK] [JUPYTER LAB OPTIONS]`
(default: the onboarding notebook).

The console and the tests need only a Jupyter kernel (in requirements.txt); JupyterLab itself is
installed into .venv on first use.
"""

from __future__ import annotations

import subprocess
import sys

from _venv import ROOT, ensure_venv

if __name__ == "__main__":
    python = str(ensure_venv())
    if subprocess.call([python, "-c", "import jupyterlab"], stderr=subprocess.DEVNULL):
        print("installing JupyterLab into .venv (first use only) ...", flush=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "jupyterlab>=4,<5"], check=True)
    arguments = sys.argv[1:]
    if not arguments or arguments[0].startswith("-"):
        arguments.insert(0, str(ROOT / "notebooks" / "onboarding.ipynb"))
    sys.exit(subprocess.call([python, "-m", "jupyter", "lab", *arguments], cwd=ROOT))
