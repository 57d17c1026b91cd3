"""A reusable Django app: ponies and their stables."""
