"""Settings come from the environment; nothing secret is written here."""

import os

password = os.environ.get("DB_PASSWORD")
api_token = os.environ["API_TOKEN"]
secret_key = os.getenv("JWT_SECRET_KEY", "")


def auth_header(request: dict) -> str:
    token = request["headers"]["authorization"]
    return token


password_hint = "ask the on-call engineer for the vault path"
TOKEN_STATUS = "EXPIRED"
