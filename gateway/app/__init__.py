"""What textback does with what happens: policy, follow-ups, keywords, the outbox's rules and the
owner's commands (pure), the conversation, the daemon loop and the lead store."""
