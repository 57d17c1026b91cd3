"""Hands: the unit horses are measured in (4 inches)."""


def hands_to_cm(hands: float) -> float:
    """Convert a height in hands to centimetres."""
    return round(hands * 10.16, 2)


def is_pony(height_hands: float) -> bool:
    """A pony stands under 14.2 hands: 14 hands and 2 inches."""
    whole, inches = divmod(round(height_hands * 10), 10)
    return (whole, inches) < (14, 2)
