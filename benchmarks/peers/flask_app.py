"""Flask peer, served by gunicorn: sync workers (as AWS's SageMaker scikit-learn container serves) or gevent.

MODEL_DIR=... gunicorn --chdir benchmarks/peers -w 2 -k sync flask_app:app
"""

from __future__ import annotations

import model_code
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify(model_code.ping())


@app.post("/invocations")
def invocations():
    return jsonify(model_code.predict(request.get_json()["instances"]))
