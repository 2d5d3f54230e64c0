"""SQLAlchemy-Utils' package initialisers, run only if something uses them.

eventsourcing-sqlalchemy needs one type of SQLAlchemy-Utils (`sqlalchemy_utils.types.uuid`'s
`UUIDType`, in its models). Importing it runs the `__init__` of `sqlalchemy_utils` and of
`sqlalchemy_utils.types`, which import every type and helper of the library (arrow, phone
numbers, i18n, views, aggregates, ...): 59 modules more, 3.2 MB of resident memory in every
process beyond what the service loads anyway (measured after importing what `crm serve` and
`crm worker` import), counted again in each process of a worker pool. The two packages are
registered as shells that know their directory, so that a module inside them loads with its own
imports only; the first use of anything else of a package runs its `__init__` then, into the
same module, so nothing is missing for whoever wants the rest.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_PACKAGES = ("sqlalchemy_utils", "sqlalchemy_utils.types")
_PUBLIC_DUNDERS = frozenset({"__all__", "__version__"})  # a star import, a version check: uses


def defer_sqlalchemy_utils() -> None:
    """Register the shells, unless the packages are imported already (or not installed)."""
    if any(name in sys.modules for name in _PACKAGES):
        return
    spec = importlib.util.find_spec(_PACKAGES[0])
    if spec is None or not spec.submodule_search_locations:
        return
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in _PACKAGES:
        directory = root.joinpath(*name.split(".")[1:])
        sys.modules[name] = _shell(name, directory)
    sys.modules[_PACKAGES[0]].types = sys.modules[_PACKAGES[1]]


def _shell(name: str, directory: Path) -> ModuleType:
    """A package module with its path and no attributes of its own yet: its `__init__` runs
    into it when an attribute it lacks is first asked for (PEP 562's module `__getattr__`)."""
    module = ModuleType(name)
    init = directory / "__init__.py"
    module.__spec__ = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(directory)])
    module.__file__ = str(init)
    module.__path__ = [str(directory)]
    module.__package__ = name
    module.__loader__ = module.__spec__.loader

    def __getattr__(attribute: str):
        if attribute.startswith("__") and attribute not in _PUBLIC_DUNDERS:
            raise AttributeError(attribute)  # what the import system looks for, not a use
        del module.__getattr__  # once: the initialiser's own imports find what it has set
        module.__spec__.loader.exec_module(module)
        return getattr(module, attribute)

    module.__getattr__ = __getattr__
    return module
