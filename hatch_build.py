"""Build hook: ship the templates compiled to Python, so a first ``init`` does not compile them.

For a wheel (not an editable install), every template under ``templates/`` is compiled by
:func:`tac_bootstrap.precompiled.write`, with the renderer of this very source tree, into
``tac_bootstrap/_precompiled/`` of the wheel; pip byte-compiles them at install.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PrecompileTemplates(BuildHookInterface):  # type: ignore[type-arg]
    """Compile the shipped templates into the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Write the modules into a temporary folder that the wheel maps into the package."""
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        sys.path.insert(0, str(root))  # the renderer of the tree being built, not an installed one
        try:
            from tac_bootstrap import render
            from tac_bootstrap.precompiled import jinja2_dist_info, write
        finally:
            sys.path.remove(str(root))
        if Path(render.__file__).resolve().parent.parent != root.resolve():
            msg = f"imported {render.__file__} instead of the tree being built ({root})"
            raise RuntimeError(msg)
        jinja2 = jinja2_dist_info()
        if jinja2 is None:  # an unusual Jinja2 install: ship no modules (they only save time)
            return
        self._out = Path(tempfile.mkdtemp(prefix="tac-bootstrap-precompiled-"))
        write(render.Renderer(root / "templates"), self._out, jinja2)
        build_data["force_include"][str(self._out)] = "tac_bootstrap/_precompiled"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary folder."""
        del version, build_data, artifact_path
        out = getattr(self, "_out", None)
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
