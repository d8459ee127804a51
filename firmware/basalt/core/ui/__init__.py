"""The pump's face, pure: button decoding, the menu state machine and the screens.

Nothing here touches hardware or a clock: key events arrive with their time, screens
draw on a Canvas (the framebuf drawing API) and menu actions come out as plain-data
commands (basalt.core.commands format) that the app applies.
"""
