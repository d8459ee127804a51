"""The developer guide's command table is the one the firmware declares."""

from tools import command_table


def test_the_guide_shows_the_table_the_firmware_declares(capsys):
    assert command_table.main(["--check"]) == 0, capsys.readouterr().err
    assert "| `bolus` | `units` 0.01–25 U in 0.01; `carbs` 0–300 g (optional);" in \
        command_table.guide_copy()


def test_the_check_fails_on_a_stale_copy(monkeypatch, capsys):
    monkeypatch.setattr(command_table, "guide_copy", lambda: command_table.BEGIN + "\nold\n")
    assert command_table.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
