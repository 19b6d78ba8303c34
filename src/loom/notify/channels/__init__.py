"""Channel senders, one module per kind; `SENDERS` maps a kind to its sender."""
