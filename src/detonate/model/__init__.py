"""Pure data passed between stages: frozen records, no I/O."""
