"""Sentiment of inbound text: VADER's compound score, in [-1, 1] as seed 002 stores it."""

from __future__ import annotations

from functools import lru_cache

from django.utils import timezone

from messaging.models import Direction, Message

from .live import inbox_changed


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def message_sentiment(text: str) -> float:
    return round(_analyzer().polarity_scores(text)["compound"], 4)


def message_analyse(*, organization, message_id) -> None:
    """Score an inbound message's text once; open inbox tabs then show its indicator."""
    message = (Message.objects.filter(organization=organization, pk=message_id, direction=Direction.INBOUND)
               .select_related("conversation").first())
    if message is not None and message.body and message.sentiment is None:
        Message.objects.filter(pk=message.pk).update(sentiment=message_sentiment(message.body),
                                                     updated_at=timezone.now())
        inbox_changed(organization, message.conversation)
