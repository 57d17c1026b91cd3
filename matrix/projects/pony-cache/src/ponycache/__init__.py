"""Remember pony names in Redis."""
import os

import redis


def client() -> "redis.Redis":
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def remember(name: str) -> int:
    return client().sadd("ponies", name)


def known() -> set:
    return {m.decode() for m in client().smembers("ponies")}
