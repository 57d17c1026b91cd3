"""ponyswarm: complete the release's source tree as an in-place build would.

Upstream CI of a release with compiled modules builds them in place (`pip install -e
.`, `setup.py build_ext --inplace`, a develop install), and its tests, run from the
tree, import the tree's package with its compiled modules beside the sources. Here
the release is installed from its wheel or sdist and the tree is the sdist's, without
them: a test that imports the tree's package would test the pure-Python fallback, or
fail to import the extension at all.

So each compiled module (.so, .pyd) of the installed distribution whose package
directory the tree has (at its top or under src/) and which the tree lacks is copied
there, and named. Nothing else in the tree is replaced, with one exception: a
distribution that installs a `*-nspkg.pth` fixes its namespace package's `__path__`
to site-packages when Python starts, so the tree's copy of its packages can never
be imported, and a runner that discovers tests under the tree (`unittest discover
-s src`) refuses modules imported from elsewhere. There the tree's package
directories become links to the installed ones: discovery walks the tree's layout
and finds the modules Python imports, as with upstream's develop install.

Never fails the job: the tests run and say what they say.

Usage: python -I .ponyswarm-dist/in-place DISTRIBUTION
(staged without `.py`: see recipe::IN_PLACE_SCRIPT)
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
    files = dist.files or []
    if any(f.name.endswith("-nspkg.pth") for f in files):
        linked = link_namespace_packages(files, str(dist.locate_file("")))
        if linked:
            print(
                "ponyswarm: in-place: namespace packages (a -nspkg.pth fixes their path "
                "to site-packages): the tree's packages link to the installed ones: "
                + ", ".join(linked)
            )
            return
    copied = []
    for f in files:
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


def link_namespace_packages(files, site):
    """Replaces each tree directory NAMESPACE/PACKAGE (at the top or under src/) that
    the distribution installs under `site` by a link to the installed one."""
    installed = set()
    for f in files:
        parts = f.parts
        if len(parts) >= 3 and not parts[0].endswith((".dist-info", ".data")):
            if ".." not in parts:
                installed.add(parts[:2])
    linked = []
    for namespace, package in sorted(installed):
        target = os.path.join(site, namespace, package)
        for root in (".", "src"):
            here = os.path.join(root, namespace, package)
            if os.path.isdir(target) and os.path.isdir(here) and not os.path.islink(here):
                shutil.rmtree(here)
                os.symlink(target, here)
                linked.append(os.path.normpath(here))
                break
    return linked


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # the tests run whatever this finds
        print(f"ponyswarm: in-place: not completed: {e!r}")
