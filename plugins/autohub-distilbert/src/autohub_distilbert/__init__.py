"""DistilBERT family plugin for autohub."""
