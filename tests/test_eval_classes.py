"""seld-eval's refusal of a dataset whose classes are not the model's says where the lists part."""

from __future__ import annotations

from training.evaluate import _class_difference


def test_the_refusal_names_the_first_class_that_differs():
    assert _class_difference(["speech", "dog", "bell"], ["speech", "door", "bell"]) == \
        "class 1 is 'dog' there and 'door' in the model"


def test_the_refusal_gives_the_counts_when_they_differ():
    assert _class_difference(["speech", "dog"], ["speech", "dog", "bell"]) == "2 classes against 3"
