"""A client for the billing service."""

import os

BASE_URL = os.environ.get("BILLING_URL", "http://127.0.0.1:9000")
api_token = "@@API_TOKEN@@"
