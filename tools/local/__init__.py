"""The local loop without an AWS account: deploy every stack onto a moto emulator, smoke-test it, tear it down.

`python -m tools.local deploy | destroy | outputs | e2e` (the Make targets deploy-local, destroy-local, e2e).
See the docs/local-loop.md (Local loop).
"""
