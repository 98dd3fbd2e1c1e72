"""Readable one-line rendering of sandbox events."""

from __future__ import annotations

from collections.abc import Callable

from devtools.sandbox.models import Event, SentMessage


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", " ⏎ ")


def describe_message(message: SentMessage) -> str:
    """Body of a message: text or media marker plus caption, inline buttons and keyboard."""
    parts: list[str] = []
    markers = {
        "photo": "[图片]",
        "document": f"[文件: {message.document_name or '?'}]",
        "sticker": "[贴纸]",
        "voice": "[语音]",
        "new_chat_members": "[加入群组]",
    }
    if message.kind in markers:
        parts.append(markers[message.kind])
    if message.text is not None:
        parts.append(_one_line(message.text))
    elif message.caption:
        parts.append(_one_line(message.caption))
    body = " ".join(parts)
    if message.buttons:
        rows = " / ".join(" | ".join(row) for row in message.buttons)
        body += f"  [按钮: {rows}]"
    keyboard = message.reply_keyboard
    if keyboard is not None:
        rows = " / ".join(" | ".join(row) for row in keyboard)
        body += f"  [键盘: {rows}]"
    elif message.reply_markup and message.reply_markup.get("remove_keyboard"):
        body += "  [键盘已移除]"
    return body


def format_event(
    event: Event,
    chat_name: Callable[[int], str],
    actor_name: Callable[[int | str], str],
) -> str | None:
    """Render one event as a transcript line (None for events that are not shown)."""
    actor = actor_name(event.actor)
    chat = chat_name(event.chat_id) if event.chat_id is not None else "?"
    msg = event.message
    body = event.detail.get("body") or (describe_message(msg) if msg is not None else "")
    if event.kind == "message" and msg is not None:
        if event.actor == "bot":
            return f"{actor} → {chat}: {body}"
        target = chat if msg.chat_id < 0 else actor_name("bot")
        return f"{actor} → {target}: {body}"
    if event.kind == "edit" and msg is not None:
        return f"{actor} ✎ {chat}: (edited) {body}"
    if event.kind == "delete" and msg is not None:
        return f"{actor} ✗ {chat}: (deleted) {_one_line(msg.shown_text)}"
    if event.kind == "press":
        where = f" @ {chat}" if event.chat_id is not None and event.chat_id < 0 else ""
        return f"{actor} ▶ [{event.text}]{where}"
    if event.kind == "callback_answer":
        if not event.text:
            return None
        alert = " (alert)" if event.detail.get("show_alert") else ""
        return f"{actor} ⚠ {chat}: (callback answer{alert}) {_one_line(event.text)}"
    if event.kind in ("member", "block"):
        return f"{actor} · {chat}: {event.text}"
    if event.kind in ("rejected", "error"):
        return f"{actor} ⛔ {chat}: {event.detail.get('method', '?')} → {event.text}"
    return f"{actor} {event.kind} {chat}: {event.text}"
