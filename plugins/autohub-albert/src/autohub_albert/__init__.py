"""autohub plugin for the ALBERT family (ALBERT v1 and v2: parameter-shared encoders)."""
