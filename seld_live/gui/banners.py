"""The window's banner: what it says, and what its button does.

Errors, warnings and notices go to the one ``widgets.Banner`` at the top of the window; ``Notices`` keeps the
action its button runs ("Retry", "Replay from the start"). The texts that explain an input or a failure
(``input_notes``, ``explain``) are built here too, so every message the window shows reads the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from seld_live.gui.widgets import Banner


class Notices:
    """The banner and the action pending behind its button."""

    def __init__(self, banner: Banner) -> None:
        self.banner = banner
        self.pending: Callable[[], Any] | None = None
        banner.action_clicked.connect(self.act)

    def show(self, text: str, level: str = "info", button: str = "", do: Callable[[], Any] | None = None) -> None:
        """Show ``text``; ``button`` runs ``do``. A message without a button leaves the pending action as it
        was (Space still retries a failed session while "Loading…" shows)."""
        self.banner.show_message(text, level, button)
        if button:
            self.pending = do

    def error(self, text: str, retry: Callable[[], Any] | None = None) -> None:
        """An error; with ``retry``, a "Retry" button (and Space) runs it."""
        self.banner.show_message(text, "error", "Retry" if retry is not None else "")
        self.pending = retry

    def warn(self, text: str) -> None:
        self.banner.show_message(text, "warning")

    def act(self) -> None:
        """Run the pending action (once)."""
        do, self.pending = self.pending, None
        if do is not None:
            do()

    def hide(self, *levels: str) -> None:
        """Hide the banner (only if it shows one of ``levels``, when given)."""
        if not levels or self.banner.level in levels:
            self.banner.hide()


def input_notes(engine: Any, array: Any, factory: Any) -> str:
    """What the terminal's log says about an input, for the window: the channels picked from a wider file, a
    planar array ('' when there is nothing to say)."""
    notes = []
    src = engine.source
    fc = getattr(src, "file_channels", None)
    if fc is not None and fc != src.num_channels:
        how = ("as given with --channels" if getattr(factory, "options", None) is not None
               and factory.options.channels else "the array preset's channels; --channels picks others")
        notes.append(f"{Path(src.path).name} has {fc} channels: using channels "
                     f"{','.join(map(str, src.channels))} for the {array.name} ({how}).")
    if array.is_planar:
        notes.append(f"{array.name} is a planar array: it cannot tell up from down, so the sign of each "
                     "elevation is a guess.")
    return " ".join(notes)


def explain(error: str, detector: Any, factory: Any) -> str:
    """Add the model's array to a channel-count error, so the mismatch explains itself."""
    opts = getattr(factory, "options", None)
    if detector is None or opts is None or "channel" not in error:
        return error
    try:
        from seld_live.paths import resolve_model

        same = (detector.path is not None
                and Path(resolve_model(opts.model)).resolve() == Path(detector.path).resolve())
    except OSError:
        same = False
    if not same:
        return error
    arr = detector.array
    return (f"{error} — {Path(str(detector.path)).name} was trained for the {arr.name} ({arr.num_channels} "
            f"channels: {','.join(map(str, arr.channels))})")
