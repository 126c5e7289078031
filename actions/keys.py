"""Every Redis key the project writes, built from one prefix."""

from __future__ import annotations


class Keys:
    """Key names under one prefix (the same prefix Rasa's tracker and lock stores use)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def case(self, case_id: str) -> str:
        """Hash holding one complaint case."""
        return f"{self.prefix}:case:{case_id}"

    def case_sequence(self, day: str) -> str:
        """Counter of cases created on one day (YYYYMMDD), for case numbers."""
        return f"{self.prefix}:case_seq:{day}"

    def cases_of_sender(self, sender_id: str) -> str:
        """List of case ids a conversation created, newest last."""
        return f"{self.prefix}:sender_cases:{sender_id}"

    def status_attempts(self, sender_id: str) -> str:
        """Counter of status look-ups by one conversation in the current hour."""
        return f"{self.prefix}:status_attempts:{sender_id}"

    def tracker(self, sender_id: str) -> str:
        """Rasa's RedisTrackerStore key for a conversation (its transcript)."""
        return f"{self.prefix}:tracker:{sender_id}"
