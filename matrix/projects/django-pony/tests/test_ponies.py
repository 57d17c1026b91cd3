import os
from decimal import Decimal

import pytest
from django.db import connection

from ponies.models import Pony


@pytest.mark.django_db
def test_store_and_query():
    Pony.objects.create(name="Bluebell", height_hands=Decimal("13.2"))
    Pony.objects.create(name="Shadowfax", height_hands=Decimal("16.0"))
    assert [p.name for p in Pony.objects.filter(height_hands__lt=Decimal("14.2"))] == ["Bluebell"]


@pytest.mark.django_db
def test_runs_on_the_database_the_matrix_asked_for():
    expected = {"sqlite": "sqlite", "postgres": "postgresql", "mariadb": "mysql"}
    assert connection.vendor == expected[os.environ["PONYSWARM_DATABASE"]]
