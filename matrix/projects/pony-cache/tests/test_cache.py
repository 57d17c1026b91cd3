from ponycache import client, known, remember


def test_remember_and_recall():
    client().delete("ponies")
    remember("Bluebell")
    remember("Bluebell")
    assert known() == {"Bluebell"}
