"""LCD texts: locales, overrides, transliteration and fitting to 2x16."""

from __future__ import annotations

import pytest

from gateway.clocking import Messages, fit_lcd, lcd_ascii
from gateway.clocking.messages import STORE_KEYS
from gateway.config import MESSAGE_KEYS
from gateway.errors import ConfigError
from gateway.protocol import validate_text


def test_spanish_reproduces_the_original_texts() -> None:
    es = Messages("es")
    assert es.render("in_ok", name="Ana") == "Entrada - Ana"
    assert es.render("out_ok", name="Ana") == "Salida - Ana"
    # 19 and 18 characters: the only change is the wrap onto the LCD's second row.
    assert es.render("in_error") == "Error en la\nentrada"
    assert es.render("out_error") == "Error en la\nsalida"


def test_english_is_the_default() -> None:
    assert Messages().render("in_ok", name="Ana") == "In - Ana"
    assert Messages().render("duplicate", name="Ana") == "Already recorded\nAna"


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_text_of_every_locale_is_valid_on_the_wire(locale: str) -> None:
    messages = Messages(locale)
    long_name = "Maximiliano Bartolomé de las Heras y Fernández-Villaverde"
    for key in (*MESSAGE_KEYS, *STORE_KEYS):
        validate_text(messages.render(key, name=long_name, card="04A1B2C3D4E5F6A7B8C9"))


def test_names_are_transliterated_for_the_lcd() -> None:
    assert lcd_ascii("José Ñúñez") == "Jose Nunez"
    assert lcd_ascii("Zoë  Łukasz\tΑθηνά") == "Zoe Lukasz Athina"
    assert lcd_ascii("back\\slash ~tilde") == "back/slash -tilde"
    assert Messages("es").render("in_ok", name="Søren") == "Entrada - Soren"
    # A name that fits a row is kept whole on the second one.
    assert Messages("es").render("out_ok", name="José Núñez") == "Salida -\nJose Nunez"
    assert (
        Messages().render("in_ok", name="Maria Jose Garcia Lopez")
        == "In - Maria Jose\nGarcia Lopez"
    )


def test_fit_wraps_at_words_and_cuts_the_last_row() -> None:
    assert fit_lcd("In - Maria Jose Garcia Lopez") == "In - Maria Jose\nGarcia Lopez"
    assert fit_lcd("Entrada - Maria Jose Garcia Lopez") == "Entrada - Maria\nJose Garcia Lope"
    assert fit_lcd("Supercalifragilisticexpialidocious") == "Supercalifragili\nsticexpialidocio"
    assert fit_lcd("one\ntwo\nthree") == "one\ntwo three"
    assert fit_lcd("") == ""


def test_overrides_replace_templates_and_bad_ones_are_config_errors() -> None:
    m = Messages("en", {"in_ok": "Hello {name}!"})
    assert m.render("in_ok", name="Ana") == "Hello Ana!"
    assert m.render("out_ok", name="Ana") == "Out - Ana"
    with pytest.raises(ConfigError, match=r"templates\.in_ok"):
        Messages("en", {"in_ok": "Hello {surname}"})
    with pytest.raises(ConfigError, match="locale"):
        Messages("fr")
