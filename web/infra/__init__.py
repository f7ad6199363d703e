"""Infrastructure: passwords, API tokens, mail delivery, health reports and the demo dataset loader."""
