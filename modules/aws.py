"""The one door to the AWS provider bindings: `from modules.aws import s3_bucket` loads only `s3_bucket`.

Why: `import cdktf_cdktf_provider_aws.<anything>` first runs the package `__init__`, which imports all ~2,200
resource modules (about 13 s here) before a single resource is built. This module registers the package
without running that `__init__`, loads the jsii assembly once, and imports submodules on demand. jsii (>= 1.1xx)
resolves types from modules that are not loaded yet by importing them lazily, so nothing is lost.

Every provider import in the project goes through here; `tests/test_import_door.py` checks that the full
package `__init__` never runs during synth.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"


def _register_package_without_init() -> ModuleType:
    existing = sys.modules.get(PACKAGE)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not installed: run `make install`")
    package = importlib.util.module_from_spec(spec)  # created, deliberately not executed
    sys.modules[PACKAGE] = package
    importlib.import_module(f"{PACKAGE}._jsii")  # loads the jsii assembly (and cdktf's, constructs')
    return package


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
