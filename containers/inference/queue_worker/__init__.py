"""The queue consumer of the inference image (`serve.py work`): long-polls a work queue and runs each message
through the shared job library (lambdas/jobs.py), the same code as the worker Lambda function."""
