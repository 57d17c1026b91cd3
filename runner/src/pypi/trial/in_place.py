"""ponyswarm: complete the release's source tree as an in-place build would.

Upstream CI of a release with compiled modules builds them in place (`pip install -e
.`, `setup.py build_ext --inplace`, a develop install), and its tests, run from the
tree, import the tree's package with its compiled modules beside the sources. Here
the release is installed from its wheel or sdist and the tree is the sdist's, without
them: a test that imports the tree's package would test the pure-Python fallback, or
fail to import the extension at all.

So each compiled module (.so, .pyd) of the installed distribution whose package
directory the tree has (at its top or under src/) and which the tree lacks is copied
there, and named. Nothing in the tree is replaced. Never fails the job: the tests
run and say what they say.

Usage: python -I in_place.py DISTRIBUTION
"""

import os
import shutil
import sys


def main(name):
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        print(f"ponyswarm: in-place: {name} is not installed; nothing to complete")
        return
    copied = []
    for f in dist.files or []:
        parts = f.parts
        if len(parts) < 2 or not f.name.endswith((".so", ".pyd")):
            continue
        if parts[0].endswith((".dist-info", ".data")) or ".." in parts:
            continue
        for root in (".", "src"):
            package = os.path.join(root, *parts[:-1])
            to = os.path.join(package, parts[-1])
            if os.path.isdir(package) and not os.path.lexists(to):
                shutil.copyfile(f.locate(), to)
                copied.append(os.path.normpath(to))
                break
    if copied:
        print(
            "ponyswarm: in-place: the tree's packages completed with the installed "
            f"compiled modules, as an in-place build would: {', '.join(copied)}"
        )


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # the tests run whatever this finds
        print(f"ponyswarm: in-place: not completed: {e!r}")
