"""Load the AWS provider's jsii assembly on a thread while the calling thread reads and validates the config.

Why: loading the assembly takes about 2 s in which the jsii process works and Python only waits for its answer
(the GIL is free). The config's import and validation (pydantic, about 0.2 s), the stack modules' import and
the synth table's fit in that wait, so `make synth` no longer pays them one after the other.

Why it is safe:
- cdktf (and with it jsii, constructs, typeguard and publication) and `modules.aws` are imported on the calling
  thread before the thread starts, so the thread imports only the provider's `_jsii` module
  (`tests/test_provider_load.py` checks exactly that). Python's per-module import locks then cannot deadlock: the
  thread never waits for a module the calling thread is importing.
- Until `wait()` returns, the thread is the only one that talks to the jsii process: the calling thread imports
  the config and the stack modules and validates the config, and the first resource module it imports waits for
  the `_jsii` module, so for the thread.
- A failed load is raised again by `wait()`, on the calling thread, as if it had been loaded there.
- After the load, the thread imports the provider modules the project names (`_prefetch`): pure Python that fills
  the calling thread's waits for the jsii process while it builds the stacks; it never calls jsii (tested).
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path


class ProviderLoad:
    """Started on construction; `wait()` before building any stack, `join()` before the process ends."""

    def __init__(self) -> None:
        importlib.import_module("cdktf")  # jsii, constructs, cdktf here: the thread imports only the provider's
        self._aws = importlib.import_module("modules.aws")  # registers the provider package (no assembly yet)
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._load, name="aws-provider-load")
        self._thread.start()

    def _load(self) -> None:
        try:
            self._aws.load_assembly()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread by wait()
            self._error = exc
        finally:
            self._loaded.set()
        if self._error is None:
            self._prefetch()

    def _prefetch(self) -> None:
        """Import the provider modules the project names while the calling thread builds the stacks.

        Why: importing a provider module is pure Python (0.2 s for the 66 of `local`), and building stacks is
        mostly waiting for the jsii process, so this thread's imports fill those waits. Provider modules never
        import each other, so the two threads cannot deadlock on them; a module the builder needs first it imports
        itself (the other thread then finds it loaded). A failed import is left to the builder, which reports it.
        """
        for name in self._aws.modules_named_in(Path(self._aws.__file__).parent):
            try:
                getattr(self._aws, name)
            except Exception:  # noqa: BLE001, S112 - the builder's own import of it raises where it is used
                continue

    def wait(self) -> None:
        """Block until the assembly is loaded; raise what the load raised."""
        self._loaded.wait()
        if self._error is not None:
            raise self._error

    def join(self) -> None:
        """Block until the thread has ended, whatever the outcome (before the process exits)."""
        self._thread.join()
