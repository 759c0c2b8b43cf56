"""gunicorn settings for the model server; each knob is an environment variable with a safe default.

Loaded by `serve.py` as a config file, so it may not import the server package: the JSON formatter
is named by string and resolved after `pythonpath` is on sys.path.
"""

from __future__ import annotations

import os
from pathlib import Path

# The directory that holds the `server` package: /opt/program in the image, containers/inference here.
pythonpath = str(Path(__file__).resolve().parent.parent)
wsgi_app = "server.wsgi:application"


def _available_cpus() -> int:
    """CPUs this process may use: the cgroup quota (Docker/ECS limits) or the affinity mask."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, int(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# SageMaker multi-container endpoints assign the port in SAGEMAKER_BIND_TO_PORT.
_port = os.environ.get("SAGEMAKER_BIND_TO_PORT") or os.environ.get("PORT") or "8080"
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_port}"

# Inference is CPU-bound and holds the GIL: one single-threaded process per CPU (server/worker.py says why).
# THREADS above 1 switches to gunicorn's gthread worker, for request paths that mostly wait on I/O.
workers = int(os.environ.get("WORKERS") or _available_cpus())
threads = int(os.environ.get("THREADS") or 1)
worker_class = "server.worker.BalancedWorker" if threads == 1 else "gthread"

# One numeric-library thread per worker: the workers already use every CPU, and more threads than CPUs only
# preempt each other. The image sets the same; this covers `make serve-model`, tests and benchmarks. Workers
# import numpy after the fork, so they read these.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def pre_fork(server, worker):
    """Give a BalancedWorker its slot on the connection board shared by the workers."""
    if hasattr(worker, "assign_slot"):
        worker.assign_slot(server.WORKERS.values())


def child_exit(server, worker):
    """Free a dead BalancedWorker's slot, so its siblings stop leaving connections to it."""
    if hasattr(worker, "release_slot"):
        worker.release_slot()


# SageMaker gives a real-time invocation 60 s; a worker silent for longer is stuck.
timeout = 60
# SIGTERM: stop accepting, finish in-flight requests, exit. Below ECS's default 30 s stop timeout.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT") or 20)
# Longer than the ALB's 60 s idle timeout, so the server never closes a connection the ALB reuses.
keepalive = 75

# Read-only root filesystem: heartbeat files in RAM, no control socket under $HOME, no pid file.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
control_socket_disable = True
proc_name = "inference"

accesslog = "-"
logger_class = "server.json_logging.AccessLogger"
errorlog = "-"
_level = os.environ.get("LOG_LEVEL", "INFO").upper()
_stdout = {
    "class": "logging.StreamHandler",
    "formatter": "json",
    "stream": "ext://sys.stdout",
}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "server.json_logging.JsonLineFormatter"}},
    "handlers": {"stdout": _stdout},
    "root": {"level": _level, "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["stdout"],
            "propagate": False,
        },
    },
}
