"""RoBERTa and XLM-RoBERTa for autohub (model types ``roberta`` and ``xlm-roberta``)."""
