"""Start the model server under gunicorn: the image's ENTRYPOINT and the local `make serve-model`.

SageMaker starts a hosting container as `docker run IMAGE serve`, so a leading `serve` argument
is accepted (and is the default command). The process replaces itself with gunicorn, so SIGTERM from
ECS, SageMaker or Ctrl-C reaches gunicorn's master directly and shuts down gracefully.

`work` runs the queue consumer instead (queue_worker/consumer.py, the queue worker service's command): it
takes its settings from the environment and handles SIGTERM itself.

usage: python serve.py [serve] [--model-dir DIR] [--host H] [--port N] [--workers N] [--train-if-missing]
       python serve.py work
   or: python -m containers.inference.serve ...   (from the repository root)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
GUNICORN_CONFIG = HERE / "server" / "gunicorn_conf.py"
DEFAULT_MODEL_DIR = "/opt/ml/model"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "work"],
        help="serve: the model server (SageMaker's start command); work: the queue consumer",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR),
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST") or "0.0.0.0",
        help="0.0.0.0 in a container",
    )
    parser.add_argument("--port", type=int, default=None, help="default: $PORT or 8080")
    parser.add_argument(
        "--workers", type=int, default=None, help="default: $WORKERS or one per CPU"
    )
    parser.add_argument(
        "--train-if-missing",
        action="store_true",
        help="train the example model into --model-dir when it is empty",
    )
    return parser.parse_args(argv)


def train_example_model(model_dir: Path) -> None:
    """Import train.py beside this file whether run as a script (image) or as a module (repository)."""
    train = importlib.import_module(f"{__package__}.train" if __package__ else "train")
    train.write_model_dir(model_dir)


def run_consumer() -> int:
    """The queue consumer, imported beside this file like train.py (the image copies lambdas/ here too)."""
    consumer = importlib.import_module(f"{__package__}.queue_worker.consumer" if __package__
                                       else "queue_worker.consumer")
    return int(consumer.main())


def gunicorn_environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ, MODEL_DIR=str(args.model_dir.resolve()), HOST=args.host)
    if args.port is not None:
        env["PORT"] = str(args.port)
    if args.workers is not None:
        env["WORKERS"] = str(args.workers)
    return env


def main(argv: list[str] | None = None) -> NoReturn:
    args = parse_args(argv)
    if args.command == "work":
        sys.exit(run_consumer())
    if args.train_if_missing and not (args.model_dir / "model.joblib").is_file():
        print(f"training the example model into {args.model_dir}", file=sys.stderr)
        train_example_model(args.model_dir)
    command = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG)]
    os.execve(sys.executable, command, gunicorn_environment(args))


if __name__ == "__main__":
    main()
