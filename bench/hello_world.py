"""A Flask hello-world under the same gunicorn settings as `crm serve` (a reference for bench/run.py).

python bench/hello_world.py PORT
"""

from __future__ import annotations

import os
import sys

from flask import Flask
from gunicorn.app.base import BaseApplication


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return {"hello": "world"}

    return app


class HelloWorld(BaseApplication):
    def __init__(self, port: int):
        self.port = port
        super().__init__()

    def load_config(self):
        # As crm/serve.py does on PostgreSQL: 2 x cores + 1 processes (at most 8), 8 threads each.
        self.cfg.set("bind", f"127.0.0.1:{self.port}")
        self.cfg.set("workers", min(2 * (os.cpu_count() or 1) + 1, 8))
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", 8)
        self.cfg.set("loglevel", "warning")
        self.cfg.set("control_socket_disable", True)

    def load(self):
        return create_app()


if __name__ == "__main__":
    HelloWorld(int(sys.argv[1])).run()
