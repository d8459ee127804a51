"""The CGM screens: the pairing prompt and the CGM link screen. Imported only when a
pairing number waits or the CGM menu is opened (a pump without a CGM never loads it).

Pairing (numeric comparison, where the board can pair): the BLE client puts the number
in view.cgm_passkey; watch_prompt() (called by Menu.tick while one waits) shows it on a
PairingScreen. Select answers yes; back, or a long press away from the screen, answers
no; no answer at all is refused by the client when its time runs out. The answer is a
command (cgm_pair), like any other.
"""

from basalt.core.ui.forms import ConfirmScreen, ListScreen
from basalt.core.ui.screens import MessageScreen, Screen, footer, title_bar

_ANSWERED = -1  # menu.pairing once the number on screen was answered

# view.cgm_security -> (the row on the CGM screen, what it means)
SECURITY = {
    "bonded": ("Link: bonded", "Bonded with this sensor (LE Secure Connections, numeric "
               "comparison): the link is encrypted and authenticated, and only this sensor "
               "is used. Forget sensor to pair another."),
    "not paired": ("Not paired", "No sensor is paired yet: the first CGM found asks to "
                   "pair. Compare the number on both screens before you say yes."),
    "refused": ("Pairing refused", "The last pairing was refused or not answered in "
                "time: that sensor is not used. It asks again when it reconnects."),
    "unauthenticated": ("Unauthenticated", "This board cannot pair (its Bluetooth stack "
                        "has no security): the link is unauthenticated and not encrypted. "
                        "Readings are taken only from the sensor below, by its address, "
                        "which another device could copy."),
}


class PairingScreen(Screen):
    title = b"Pair CGM?"

    def __init__(self, passkey):
        self.passkey = passkey
        self.digits = ("%06d" % passkey).encode()

    def select(self, menu, view):
        _answer(menu, "yes")

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        p.big(self.digits, 4, 13)
        p.text(b"same number on", 0, 34)
        p.text(b"the sensor?", 0, 43)
        footer(p, menu.confirm_hint)


def _answer(menu, answer):
    menu.emit(("cgm_pair", {"answer": answer}))
    menu.pairing = _ANSWERED
    if isinstance(menu.top(), PairingScreen):
        menu.pop()


def watch_prompt(menu, now_ms, view):
    """Show a new pairing number; close the screen when the client stops asking; a
    screen the user left (back, long press) is a no. Left by the idle timeout, the
    client's own time-out refuses it."""
    passkey = view.cgm_passkey
    showing = isinstance(menu.top(), PairingScreen)
    if passkey is None:
        if showing:
            menu.pop()
        menu.pairing = None
    elif menu.pairing != passkey and menu.pairing != _ANSWERED:
        menu.pairing = passkey
        menu.wake(now_ms)
        menu.push(PairingScreen(passkey))
    elif menu.pairing == passkey and not showing:
        if menu.idle_ms(now_ms) < menu.dim_ms:
            _answer(menu, "no")
        else:
            menu.pairing = _ANSWERED


def cgm_screen():
    return ListScreen(b"CGM", _items)


def _items(menu, view):
    if view.cgm_link is None:
        return [("No CGM", _pop)]
    row, about = SECURITY.get(view.cgm_security, (view.cgm_security or "?", ""))
    peer = view.cgm_peer or "none yet"
    text = "%s Sensor: %s." % (about, peer)
    state = view.cgm_link[4:]  # "CGM scanning" -> "scanning"
    if state in ("bonded", "unauthenticated"):
        state = "connected"
    about_link = _message("CGM link", text)
    items = [(state or "-", about_link), (row, about_link)]
    if view.cgm_peer is not None:
        items.append(("Sensor " + view.cgm_peer[-8:], about_link))
    if view.glucose_mgdl is not None:
        items.append(("Last %d mg/dL" % view.glucose_mgdl, about_link))
    if view.cgm_peer is not None:
        items.append(("Forget sensor", _push(ConfirmScreen(
            b"Forget sensor?", "", "", ["the next CGM", "found must pair"],
            ("cgm_forget", {})))))
    return items


def _message(title, text):
    def action(menu, view):
        menu.push(MessageScreen(title, text))

    return action


def _push(screen):
    def action(menu, view):
        menu.push(screen)

    return action


def _pop(menu, view):
    menu.pop()
