"""MPNet for autohub (model type ``mpnet``)."""
