"""gunicorn's entry point (`server.wsgi:application`): one app, and one model load, per worker."""

from .app import create_app

application = create_app()
