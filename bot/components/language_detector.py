"""Rasa NLU component that tags every message with its language as a `language` entity."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language import detect_language

LANGUAGE_ENTITY = "language"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class LanguageDetector(GraphComponent):
    """Adds {"entity": "language", "value": en|zh-Hans|zh-Hant|zh} to each message."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Create the component (it has nothing to train or load)."""
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        """Tag each message; messages with no words (digits, emoji) get no tag."""
        for message in messages:
            language = detect_language(message.get(TEXT) or "")
            if language is not None:
                message.set(
                    ENTITIES,
                    [*message.get(ENTITIES, []), _language_entity(language)],
                    add_to_output=True,
                )
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        """Training data passes through untouched: the tag is not learned."""
        return training_data

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """No options."""
        return {}

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageDetector:
        """Load the component: it is stateless, so loading is creating."""
        return cls.create(config, model_storage, resource, execution_context)


def _language_entity(language: str) -> Dict[str, Optional[Any]]:
    """The entity dict Rasa expects, spanning no characters."""
    return {
        "entity": LANGUAGE_ENTITY,
        "value": language,
        "start": 0,
        "end": 0,
        "extractor": "LanguageDetector",
    }
