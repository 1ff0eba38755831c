"""Production settings (a developer pasted credentials here)."""

DEBUG = False
AWS_ACCESS_KEY_ID = "@@AWS_KEY_ID@@"
AWS_SECRET_ACCESS_KEY = "@@AWS_SECRET@@"
