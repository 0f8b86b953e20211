"""The lock files stay in step with pyproject.toml: `make install` installs from them alone."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from metrics.config import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements"
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def _pins(lock_name: str) -> dict[str, str]:
    pins = {}
    for line in (REQUIREMENTS / lock_name).read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            name, version = spec.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _requirements(*texts: str) -> list[Requirement]:
    return [Requirement(text) for text in texts]


def _constraints() -> list[Requirement]:
    lines = (REQUIREMENTS / "constraints.txt").read_text().splitlines()
    return _requirements(*(s for s in (line.split("#", 1)[0].strip() for line in lines) if s))


LOCKS = {
    "runtime.lock": _requirements(*PROJECT["dependencies"]),
    "dev.lock": _requirements(*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]),
}


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_every_declared_dependency_and_constraint_is_pinned_within_its_range(lock_name):
    pins = _pins(lock_name)
    missing = [str(req) for req in LOCKS[lock_name] if canonicalize_name(req.name) not in pins]
    outside = {
        str(req): pins[name]
        for req in LOCKS[lock_name] + _constraints()
        if (name := canonicalize_name(req.name)) in pins
        and not req.specifier.contains(pins[name], prereleases=True)
    }
    assert (missing, outside) == ([], {}), f"requirements/{lock_name} is stale: run `make lock`"


def test_the_runtime_lock_pins_what_the_dev_lock_pins():
    runtime, dev = _pins("runtime.lock"), _pins("dev.lock")
    differing = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert differing == {}


def test_every_direct_dependency_has_an_upper_bound():
    declared = _requirements(*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"])
    unbounded = [
        str(req)
        for req in declared
        if not any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier)
    ]
    assert unbounded == []
