"""One action per use case: the storage transition and its notices in one transaction.

Called by handlers and jobs alike."""
