"""autohub plugin for the Whisper family (speech recognition and translation, audio classification)."""
