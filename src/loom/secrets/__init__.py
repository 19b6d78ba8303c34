"""Secret values people type into forms: encrypted at rest, revealed only to the action
that needs them, deleted when their request ends."""
