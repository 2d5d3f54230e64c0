"""flask-smorest tuned to the contract: 400 (not 422) for invalid input, our error payload."""

from __future__ import annotations

import flask
import flask_smorest
from marshmallow import missing
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import CombinedMultiDict

from crm.http.errors import http_error_payload
from crm.http.openapi import ContractPlugin, ErrorSchema, add_links


def _unsafe_text(value: object) -> bool:
    """Strings a database cannot store: NUL, and lone surrogates that are not valid UTF-8."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_unsafe_text(k) or _unsafe_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unsafe_text(item) for item in value)
    return False


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # A multipart/form-data body's fields and files, read as one (a file upload with its options).
    __location_map__ = {**FlaskParser.__location_map__, "form_and_files": "load_form_and_files"}

    def load_form_and_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)

    def load_json(self, req, schema):
        try:
            data = super().load_json(req, schema)
            unsafe = _unsafe_text(data)
        except RecursionError:
            abort(400, messages={"json": ["JSON body is nested too deeply."]})
        except ValueError as error:  # e.g. an integer literal longer than Python converts
            abort(400, messages={"json": [f"Invalid JSON body: {error}."]})
        if unsafe:
            abort(400, messages={"json": ["JSON body contains a NUL character or an invalid surrogate."]})
        if data is missing:  # no body, or not JSON: every operation with a body requires it
            abort(400, messages={"json": ["A JSON body (Content-Type: application/json) is required."]})
        return data

    def load_querystring(self, req, schema):
        if any("\x00" in value for values in req.args.listvalues() for value in values):
            abort(400, messages={"query": ["Query parameters must not contain NUL characters."]})
        return super().load_querystring(req, schema)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": "multipart/form-data",
    }

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's `arguments`, with a schema class instantiated once here: webargs would
        build a new instance (deep-copying every field) on each request."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


class Api(flask_smorest.Api):
    """flask-smorest's Api, with the whole contract in its document (`crm.http.openapi`)."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        spec_kwargs = {**(spec_kwargs or {}), "extra_plugins": [ContractPlugin()]}
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def _openapi_json(self):
        """Serve the document, with the links from each create added."""
        return flask.current_app.response_class(
            flask.json.dumps(add_links(self.spec.to_dict()), indent=2, sort_keys=False), mimetype="application/json"
        )

    def handle_http_exception(self, error):
        if error.response is not None:  # made whole where it was raised (a 429 with its Retry-After)
            return error.response
        return http_error_payload(error)
