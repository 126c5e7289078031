"""The compiled action-response validator accepts and rejects exactly what Rasa's does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.server import compiled_response_validation, validate_action_response

VALID = {"events": [{"event": "slot", "name": "category", "value": "refund"}], "responses": [{"text": "hi"}]}
INVALID = {"events": [{"event": "slot", "name": 5}], "responses": "not a list"}


def test_valid_response_passes() -> None:
    validate_action_response(VALID)


def test_invalid_response_raises_like_jsonschema() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(INVALID, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError):
        validate_action_response(INVALID)


def test_patched_rasa_keeps_its_error_message() -> None:
    compiled_response_validation()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result(VALID) is True
    with pytest.raises(jsonschema.ValidationError) as raised:
        action._validate_action_result(INVALID)
    assert "Failed to validate Action server response" in raised.value.message
