import sys

from ponylib import hands_to_cm, is_pony


def test_hands_to_cm():
    assert hands_to_cm(14) == 142.24


def test_is_pony():
    assert is_pony(13.3)
    assert not is_pony(14.2)


def test_interpreter_is_the_one_asked_for():
    assert sys.version_info >= (3, 9)
