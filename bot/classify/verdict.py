"""The classifier's output record now lives in bot/verdict.py, at the ground layer, so that
storage and search can use it without loading the classifier; this name stays for imports
written before the move."""

from bot.verdict import TOPICS, Evidence, Verdict

__all__ = ["TOPICS", "Evidence", "Verdict"]
