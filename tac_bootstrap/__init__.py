"""tac-bootstrap: generate Python projects."""

# Importing this package is cheap on purpose: the CLI answers `--version` from here before it
# imports Typer, Jinja2, Pydantic or Rich. The rest of this file is kept out of its docstring:
#
# Under a file-size limit (`ulimit -f`) Python writes a module's bytecode cache cut at the limit
# and renames it into place, and every later import of that module failed ("EOFError: marshal
# data too short"). Python writes this file's cache before its first line runs (it is kept
# small: about 600 bytes, under the 1024 bytes of bash's `ulimit -f 1`); from here on, before
# the entry point and the rest of the package are imported, no cache is written under a limit.
import sys

try:
    import resource
except ImportError:  # Windows: no such limit
    pass
else:
    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
        sys.dont_write_bytecode = True

__version__ = "0.4.3.dev0"

__all__ = ["__version__"]
