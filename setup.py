"""Build hook: ship the report notebooks inside the package.

The notebooks live at the top of the project (``notebooks/``), where analysts and the design
expect them; a wheel carries a copy in ``bsc_toolkit/notebooks/`` so that an installed
``bsc report`` works from any directory (``bsc_toolkit.report.packaged_notebooks_dir``). All
other metadata is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithNotebooks(build_py):
    """``build_py`` that also copies ``notebooks/**/*.ipynb`` into ``bsc_toolkit/notebooks/``."""

    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "notebooks"
        target = Path(self.build_lib) / "bsc_toolkit" / "notebooks"
        for notebook in sorted(source.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in notebook.parts:
                continue
            dest = target / notebook.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, dest)


setup(cmdclass={"build_py": BuildPyWithNotebooks})
