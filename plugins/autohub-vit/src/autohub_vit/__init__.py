"""autohub plugin for the Vision Transformer (ViT) family: models, heads and the image processor."""
