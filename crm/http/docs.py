"""Serves the Swagger UI assets from the installed package, so the docs work offline."""

from __future__ import annotations

from flask import Blueprint, Flask
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/api/docs/assets"


def init_app(app: Flask) -> None:
    assets = Blueprint("docs_assets", __name__, static_folder=str(swagger_ui_path), static_url_path=ASSETS_URL)
    app.register_blueprint(assets)
