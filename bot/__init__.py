"""policybot: follows AI-governance news from RSS/Atom feeds and posts it to Discord and Slack."""

__version__ = "0.1.0"
