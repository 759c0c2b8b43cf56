"""The one door to the AWS provider bindings: `from modules.aws import s3_bucket` loads only `s3_bucket`.

Why: `import cdktf_cdktf_provider_aws.<anything>` first runs the package `__init__`, which imports all ~2,200
resource modules (about 13 s here) before a single resource is built. This module registers the package
without running that `__init__` and imports submodules on demand. jsii (>= 1.1xx) resolves types from modules
that are not loaded yet by importing them lazily, so nothing is lost.

The provider's jsii assembly (about 2 s) loads with the first resource module (each imports the package's `_jsii`
module), or earlier through `load_assembly()`: `make synth` calls it on a thread (modules/provider_load.py), so
importing this module, and the stack modules that import it, never waits for the assembly.

Every provider import in the project goes through here; `tests/test_import_door.py` checks that the full
package `__init__` never runs during synth.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"
_DOOR_USE = re.compile(r"\baws\.([a-z][a-z0-9_]*)\b")  # `aws.<module>` in the project's code


def _register_package_without_init() -> ModuleType:
    existing = sys.modules.get(PACKAGE)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not installed: run `make install`")
    package = importlib.util.module_from_spec(spec)  # created, deliberately not executed
    sys.modules[PACKAGE] = package
    return package


def load_assembly() -> None:
    """Load the provider's jsii assembly now, not with the first resource module."""
    importlib.import_module(f"{PACKAGE}._jsii")


def modules_named_in(folder: Path) -> list[str]:
    """The provider modules the code under FOLDER reaches through this door (`aws.<module>`), sorted.

    Why: importing them is pure Python (no jsii call), so `make synth` imports them on a thread while the main one
    waits for the jsii process (modules/provider_load.py). A name that is not a provider module is left out.
    """
    names = {name for path in folder.rglob("*.py") for name in _DOOR_USE.findall(path.read_text())}
    package_dir = Path(sys.modules[PACKAGE].__path__[0])
    return sorted(name for name in names if (package_dir / name / "__init__.py").is_file())


_register_package_without_init()


def __getattr__(name: str) -> ModuleType:
    """`modules.aws.<resource_module>` imports `cdktf_cdktf_provider_aws.<resource_module>` on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        module = importlib.import_module(f"{PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        raise AttributeError(f"{PACKAGE} has no module {name!r}") from exc
    globals()[name] = module
    return module
