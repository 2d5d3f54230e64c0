"""flask-smorest tuned to the contract: 400 (not 422) for invalid input, our error payload."""

from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser

from crm.http.errors import http_error_payload


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


class Api(flask_smorest.Api):
    def handle_http_exception(self, error):
        return http_error_payload(error)
