"""Events: who may change the corpus on a shared page, how often one visitor may ask, how phones join."""
from __future__ import annotations

import pytest

from config import SettingsError
from errors import UserError
from service import Vraagbaak, settings_from
from visitors import Gate, VisitorLimits, is_locked, is_loopback, join_url, qr_svg


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_one_question_in_flight_and_a_few_per_minute_per_visitor():
    clock = Clock()
    limits = VisitorLimits(per_minute=3, clock=clock)
    with limits.visit("10.0.0.2"):
        with pytest.raises(UserError) as err:
            with limits.visit("10.0.0.2"):
                pass
        assert err.value.key == "visitor_busy"
        with limits.visit("10.0.0.3"):  # another visitor is not held up
            pass
    with limits.visit("10.0.0.2"):
        pass
    with limits.visit("10.0.0.2"):
        pass
    with pytest.raises(UserError) as err:
        with limits.visit("10.0.0.2"):
            pass
    assert err.value.key == "visitor_too_many" and "seconden" in err.value.dutch
    clock.now += 61
    with limits.visit("10.0.0.2"):  # a minute later it may ask again
        pass


def test_a_page_only_this_computer_reaches_has_no_limits():
    limits = Vraagbaak(settings_from({"visitor_questions_per_minute": 1}, environ={})).visitors
    for _ in range(3):
        with limits.visit("127.0.0.1"):
            pass
    shared = Vraagbaak(settings_from({"visitor_questions_per_minute": 1, "demo": True}, environ={})).visitors
    with shared.visit("10.0.0.9"):
        pass
    with pytest.raises(UserError):
        with shared.visit("10.0.0.9"):
            pass


def test_a_failing_question_frees_the_visitor():
    limits = VisitorLimits(per_minute=10)
    with pytest.raises(RuntimeError):
        with limits.visit("v"):
            raise RuntimeError("model crashed")
    with limits.visit("v"):
        pass


def test_shared_pages_are_locked_behind_the_token():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    gate = Gate(locked=True)
    gate.check(gate.token)
    for wrong in (None, "", "raden", gate.token + "x"):
        with pytest.raises(UserError) as err:
            gate.check(wrong)
        assert err.value.key == "admin_only"
    Gate(locked=False).check(None)
    for host, demo, locked in (("127.0.0.1", False, False), ("127.0.0.1", True, True), ("0.0.0.0", False, True)):
        assert Vraagbaak(settings_from({"host": host, "demo": demo}, environ={})).gate.locked is locked


def test_the_lock_setting_and_a_token_chosen_for_all_replicas():
    assert is_locked("auto", demo=True, host="127.0.0.1") and is_locked("auto", demo=False, host="0.0.0.0")
    assert not is_locked("auto", demo=False, host="127.0.0.1")
    assert is_locked("yes", demo=False, host="127.0.0.1")  # a replica behind a proxy: local, yet shared
    assert not is_locked("no", demo=True, host="0.0.0.0")
    shared = "een-lang-gedeeld-token-2026"
    gate = Gate(locked=True, token=shared)
    assert gate.chosen and gate.token == shared
    gate.check(shared)
    with pytest.raises(UserError):
        gate.check("een-ander-token-van-genoeg-lengte")
    with pytest.raises(SettingsError) as err:
        Gate(locked=True, token="kort")
    assert "16" in str(err.value) and "kort" not in str(err.value)  # the message never repeats a secret
    assert not Gate(locked=True).chosen and len(Gate(locked=True).token) >= 16
    with pytest.raises(SettingsError):
        settings_from({"lock": "misschien"}, environ={})
    app = Vraagbaak(settings_from({"lock": "yes", "admin_token": shared}, environ={}))
    assert app.gate.locked and app.gate.token == shared and app.visitors.enabled


def test_the_join_address_and_its_qr_code_are_made_here():
    url = join_url("0.0.0.0", 7860)
    assert url.startswith("http://") and ":7860/" in url and "0.0.0.0" not in url
    assert join_url("192.168.1.20", 8000) == "http://192.168.1.20:8000/"
    svg = qr_svg(url)
    assert svg.startswith("<svg") and "<path" in svg and "http" not in svg.replace(url, "")
