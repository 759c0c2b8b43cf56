"""WSGI model server following the SageMaker container contract (GET /ping, POST /invocations).

Modules import each other relatively, so the package runs both as `containers.inference.server`
(tests, local dev) and as the top-level `server` package inside the image.
"""
