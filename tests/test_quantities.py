"""Ranks, counts in words and directions: the quantities a claim states without digits (qa.quantities)."""

from __future__ import annotations

from qa import quantities


def test_ranks_in_digits_and_spelled() -> None:
    text = "HK was ASEAN's 7th partner, its 2nd-largest market and its second largest; the 21st century."
    assert quantities.ordinals(text) == {"7th", "2nd", "21st"}
    assert quantities.ordinals(text, spelled=True) == {"7th", "2nd", "21st"}
    assert quantities.ordinals("the third and the twelfth", spelled=True) == {"3rd", "12th"}
    assert quantities.ordinals("the third and the twelfth") == set()
    assert quantities.ordinals("USD 14.3 billion in 2024") == set()  # numbers are not ranks


def test_counts_in_words_but_not_one() -> None:
    assert quantities.spelled_counts("Five areas, twelve projects and one of them") == {"5", "12"}
    # A number of two words is not its parts; a count joined to a noun is a count.
    assert quantities.spelled_counts("twenty-two members") == set()
    assert quantities.spelled_counts("a five-character memory play") == {"5"}
    assert quantities.is_count_word("Six") and not quantities.is_count_word("one")


def test_which_way_a_change_goes() -> None:
    assert quantities.directions("Trade volume declined while its share rose") == {1, -1}
    assert quantities.directions("Talks began in 2022") == set()
    closest = "The actual trade volume declined."
    assert quantities.turned("The volume rose.", closest)
    assert not quantities.turned("The volume fell.", closest)
    assert not quantities.turned("The volume changed.", closest)  # no direction said: nothing to turn
    assert not quantities.turned("The volume rose.", "Talks began.")  # none given: the other checks decide
    assert not quantities.turned("The volume rose.", closest, "Did the volume rise?")  # the question's own
