"""autohub plugin for the T5 family (T5, T5 v1.1, Flan-T5)."""
