"""BART for autohub: config, tokenizer, encoder-decoder model and heads (imported lazily by the plugin)."""
