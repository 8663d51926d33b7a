"""Sentiment of inbound text: VADER's compound score, in [-1, 1] as seed 002 stores it."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def message_sentiment(text: str) -> float:
    return round(_analyzer().polarity_scores(text)["compound"], 4)
