"""The GPT-2 family for autohub: GPT2Config, GPT2Tokenizer, GPT2Model and its heads."""
