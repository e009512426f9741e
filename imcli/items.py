"""Mixed-message items in the SDK's shape, validated with the index of any bad one."""

from __future__ import annotations

from typing import Any

from imcli.errors import UsageError
from imcli.models import Item

MEDIA_ITEM_TYPES = ("image", "voice", "video", "file")
TEXT_ITEM_TYPES = ("text", "markdown")


def parse_items(raw: Any, *, start: int = 0) -> list[Item]:
    """Items in the SDK's shape; an invalid one is refused naming its index."""
    from imcli import media

    if not isinstance(raw, list):
        raise UsageError("mixed items: expected a JSON array of items")
    items: list[Item] = []
    for i, obj in enumerate(raw, start=start):
        if not isinstance(obj, dict):
            raise UsageError(f'item {i}: expected an object with a "type"')
        typ = obj.get("type")
        if typ in TEXT_ITEM_TYPES:
            text = obj.get("text", obj.get("content"))
            if not isinstance(text, str) or not text.strip():
                raise UsageError(f'item {i} ({typ}): "text" must be a non-empty string')
            items.append(Item(type=typ, text=text))
        elif typ in MEDIA_ITEM_TYPES:
            src = next((obj[k] for k in ("source", "file", "url", "path") if k in obj), None)
            if not isinstance(src, str) or not src.strip():
                raise UsageError(f'item {i} ({typ}): "source" must be a URL, path or data URI')
            name = next((obj[k] for k in ("filename", "name", "file_name") if k in obj), None)
            mime = obj.get("mime_type", obj.get("mimeType"))
            caption = obj.get("caption")
            for label, val in (("filename", name), ("mime_type", mime), ("caption", caption)):
                if val is not None and not isinstance(val, str):
                    raise UsageError(f"item {i} ({typ}): {label} must be a string")
            try:
                parsed = media.parse(src, typ, filename=name, mime=mime)
            except UsageError as exc:
                raise UsageError(f"item {i}: {exc.message}") from None
            items.append(Item(type=typ, media=parsed, caption=caption))
        else:
            raise UsageError(
                f"item {i}: unknown type {typ!r} (text, markdown, image, voice, video, file)"
            )
    return items
