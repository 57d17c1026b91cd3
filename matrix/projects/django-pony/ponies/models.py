from django.db import models


class Pony(models.Model):
    name = models.CharField(max_length=50, unique=True)
    height_hands = models.DecimalField(max_digits=4, decimal_places=1)

    def is_pony(self) -> bool:
        return self.height_hands < 14.2
