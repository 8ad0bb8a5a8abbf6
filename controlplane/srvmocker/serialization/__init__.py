"""Serializers for `ContentResponse`: a `dumps` function paired with a content type."""
