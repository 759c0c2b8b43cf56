"""The operators' CLI of the pipeline (`./pipeline`, or `.venv/bin/python -m tools.pipeline`): submit jobs and read
their results, call predict, show queue depths, list and redrive dead-letter queues, against the local emulator
deployment or a real environment. See cli.py for the commands and the README ("Try it", "Calling the API").
"""
