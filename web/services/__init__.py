"""Business rules shared by the HTML views, the JSON API and the CLI.

Functions here take explicit arguments (the acting user, plain values), raise domain exceptions
from :mod:`web.services.errors`, and never look at the request.
"""
