"""Deferred compilation of numba functions with declared signatures (analysis.numba_cache)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from analysis.numba_cache import cached_deferred_njit


def _halve(x):
    return x / 3.0


def _sum(values):
    total = 0.0
    for value in values:
        total += value
    return total


def _pair():
    deferred = cached_deferred_njit(numba.njit)
    return numba.njit("f4(f4)", cache=False)(_halve), deferred("f4(f4)", cache=False)(_halve)


def test_nothing_is_compiled_until_first_use_then_exactly_the_declared_signatures() -> None:
    eager, deferred = _pair()
    assert len(eager.signatures) == 1
    assert deferred.signatures == []  # importing cost nothing
    # a Python float is converted to float32 as by the eager dispatcher, not compiled as float64
    assert deferred(1.0) == eager(1.0) == np.float32(1.0) / np.float32(3.0)
    assert deferred(1.0) != 1.0 / 3.0
    assert deferred.signatures == eager.signatures
    assert not deferred._can_compile  # further types are refused or converted, never compiled


def test_types_the_eager_dispatcher_refuses_are_refused() -> None:
    deferred_sum = cached_deferred_njit(numba.njit)(["f8(f8[::1])"], cache=False)(_sum)
    assert deferred_sum(np.arange(4.0)) == 6.0
    with pytest.raises(TypeError):
        deferred_sum(np.arange(4.0, dtype=np.float32))  # no f4 array version was declared


def test_a_jitted_caller_typed_first_compiles_the_declared_signature() -> None:
    _, deferred = _pair()

    @numba.njit(cache=False)
    def caller(x):
        return deferred(x) * 2.0

    result = caller(1.0)  # typing `caller` asks `deferred` for its call template first
    assert deferred.signatures == [(numba.float32,)]
    assert result == np.float32(1.0) / np.float32(3.0) * 2.0


def test_declared_keyword_options_are_kept() -> None:
    deferred = cached_deferred_njit(numba.njit)(["f8(f8)"], fastmath=True)(_halve)
    assert deferred.targetoptions.get("fastmath")
    assert deferred._cache.__class__.__name__ != "NullCache"  # cache=True is the default here
