"""moto's server (`python -m moto.server`), with one change: a repeated, identical CreateFunction is answered as the
first one was.

Why: the AWS provider (5.100) retries CreateFunction on every ResourceConflictException for two minutes while it
holds its provider-wide lock on Lambda creation, then fails with the 409. So when the SDK sends one CreateFunction
twice (it repeats a request whose answer it did not get: a transport error, seen here under load, e.g. one KMS
read in about a thousand requests of one deploy), and moto had created the function on the first, every function
of the stack waits and the deploy fails (`Function already exist`). AWS itself would answer that repeat with the
same 409; the emulator answers a byte-identical repeat of a creation it just made (same name, same request body,
within REPEAT_WINDOW_SECONDS) with that creation's answer, so a lost answer costs one request, not the deploy. Any
other CreateFunction for an existing name still gets moto's 409.

usage: python -m tools.emulator_server -H 127.0.0.1 -p PORT    (the arguments of moto.server)
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from moto.awslambda.responses import LambdaResponse
from moto.server import main

REPEAT_WINDOW_SECONDS = 300.0

_created: dict[str, tuple[str, float, Any]] = {}  # function name -> (request digest, when, moto's answer)
_lock = threading.Lock()
_moto_create_function = LambdaResponse.create_function


def _create_function(self: LambdaResponse) -> Any:
    name = str(self.json_body.get("FunctionName", "")).rsplit(":", 1)[-1]
    digest = hashlib.sha256(self.body if isinstance(self.body, bytes) else str(self.body).encode()).hexdigest()
    with _lock:
        earlier = _created.get(name)
        if earlier and earlier[0] == digest and time.monotonic() - earlier[1] < REPEAT_WINDOW_SECONDS \
                and _exists(self, name):  # a function deleted since (a destroy, a reset) is created anew
            return earlier[2]
        answer = _moto_create_function(self)
        _created[name] = (digest, time.monotonic(), answer)
        return answer


def _exists(self: LambdaResponse, name: str) -> bool:
    try:
        self.backend.get_function(name, None)
    except Exception:
        return False
    return True


LambdaResponse.create_function = _create_function  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
