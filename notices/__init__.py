"""What the bot tells people: texts, keyboards, callback data, who is told, and the outbox that
delivers it. Above storage, below actions; handlers and jobs use it alike."""
