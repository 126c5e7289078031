"""Every Redis key the project writes (cases, handoff, agents), built from one prefix."""

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

    # --- handoff: who owns a conversation, and what was said in it ---

    def owner(self, conversation_id: str) -> str:
        """Hash with the owner state of one conversation (bot, queued, offered, agent, ...)."""
        return f"{self.prefix}:owner:{conversation_id}"

    def conversation_log(self, conversation_id: str) -> str:
        """Stream of every message of one conversation; entry ids are the sequence."""
        return f"{self.prefix}:log:{conversation_id}"

    def typing(self, conversation_id: str, party: str) -> str:
        """Short-lived flag that the customer or the agent of a conversation is typing."""
        return f"{self.prefix}:typing:{conversation_id}:{party}"

    def webchat_client_id(self, conversation_id: str, client_id: str) -> str:
        """Short-lived flag that a web widget message (by its client_id) was taken, so a resend is not."""
        return f"{self.prefix}:webchat_seen:{conversation_id}:{client_id}"

    # --- handoff: the queue and who holds which case ---

    def queue(self) -> str:
        """Sorted set of waiting case ids; the lowest score is served first."""
        return f"{self.prefix}:queue"

    def queue_entries(self) -> str:
        """Hash of case id to the JSON of its queue entry (waiting or held by an agent)."""
        return f"{self.prefix}:queue_entries"

    def assignments(self) -> str:
        """Hash of case id to the id of the agent holding it."""
        return f"{self.prefix}:assignments"

    def offer(self, case_id: str) -> str:
        """Hash of the pending offer of one case to one agent; expires with the offer."""
        return f"{self.prefix}:offer:{case_id}"

    def callbacks(self) -> str:
        """Sorted set of promised callbacks (case ids) by due time in epoch seconds."""
        return f"{self.prefix}:callbacks"

    def callback(self, case_id: str) -> str:
        """Hash with the details of one promised callback."""
        return f"{self.prefix}:callback:{case_id}"

    def handle_times(self) -> str:
        """List of the most recent handle times in seconds, newest first."""
        return f"{self.prefix}:stats:handle_times"

    # --- agents ---

    def agent(self, agent_id: str) -> str:
        """Hash of one agent account."""
        return f"{self.prefix}:agent:{agent_id}"

    def agent_names(self) -> str:
        """Hash of folded agent name to agent id (the index that keeps names unique)."""
        return f"{self.prefix}:agent_names"

    def agent_session(self, token_digest: str) -> str:
        """Hash of one sign-in session, named by the SHA-256 of its token; expires."""
        return f"{self.prefix}:agent_session:{token_digest}"

    def presence(self, agent_id: str) -> str:
        """Hash with an agent's presence (available, busy, away, offline) and since when."""
        return f"{self.prefix}:presence:{agent_id}"

    def agent_load(self, agent_id: str) -> str:
        """Set of case ids an agent holds now; its size is the agent's load."""
        return f"{self.prefix}:agent_load:{agent_id}"

    def agent_activity(self) -> str:
        """Sorted set of agent id by the last time a chat was given to or taken from them."""
        return f"{self.prefix}:agent_activity"

    # --- the bridge: delivery to agents and liveness of their consoles ---

    def agent_inbox(self, agent_id: str) -> str:
        """Stream of frames for one agent's consoles (offers, closed cases), read by every bridge."""
        return f"{self.prefix}:agent_inbox:{agent_id}"

    def agent_connections(self, agent_id: str) -> str:
        """Sorted set of an agent's open console sockets (any bridge) by the time each expires."""
        return f"{self.prefix}:agent_connections:{agent_id}"

    def agent_gone(self, agent_id: str) -> str:
        """Epoch seconds since when an agent has had no open console (start of the grace period)."""
        return f"{self.prefix}:agent_gone:{agent_id}"

    def declined(self, case_id: str) -> str:
        """Set of agent ids who declined or let lapse the offer of one case."""
        return f"{self.prefix}:declined:{case_id}"

    def bridge_leader(self) -> str:
        """Which bridge instance runs the offer loop now (expires unless its holder renews it)."""
        return f"{self.prefix}:bridge_leader"

    def queue_positions_told(self) -> str:
        """Hash of case id -> the queue position the waiting customer was last told."""
        return f"{self.prefix}:queue_positions_told"

    def queue_events(self) -> str:
        """Pub/sub channel: a case was queued (wakes every bridge's offer loop at once)."""
        return f"{self.prefix}:queue_events"
