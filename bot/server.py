"""Run Rasa's own command line with one measured performance fix applied.

Rasa 3.6 validates every action-server response with `jsonschema.validate`, which first
re-checks the (large, constant) response schema itself on every call: under load that was
31% of the Rasa server's CPU (py-spy, docs/BENCHMARKS.md). `compiled_response_validation`
checks the schema once and keeps the validator; responses are validated exactly as before
and an invalid one raises the same ValidationError with Rasa's message.

Usage: python -m bot.server run -m models ... (any `rasa` arguments).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

import jsonschema
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    """The action-response validator, built and schema-checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_response(result: Dict[str, Any]) -> None:
    """Raise the best-matching ValidationError, as jsonschema.validate does."""
    error = best_match(_response_validator().iter_errors(result))
    if error is not None:
        raise error


def compiled_response_validation() -> None:
    """Make RemoteAction validate responses with the compiled validator."""
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: Dict[str, Any]) -> bool:
        try:
            validate_action_response(result)
        except jsonschema.ValidationError:
            return bool(original(self, result))  # re-raise with Rasa's own wording
        return True

    RemoteAction._validate_action_result = validate  # type: ignore[method-assign]


def main() -> None:
    """Apply the fix, then hand over to Rasa's CLI."""
    compiled_response_validation()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
