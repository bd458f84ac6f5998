# Type stub of the `monban` package (installed as monban/__init__.pyi next to py.typed).
#
# The package's __init__.py re-exports the uniffi-generated module monban/monban.py, whose
# functions, records, enums and classes carry inline type annotations; this stub re-exports
# them so type checkers (mypy, pyright) see the same names with those annotations.
from .monban import *  # noqa: F401,F403
