from softclock.sip.failover import RegistrarWatch


def test_two_misses_switch_to_the_backup_and_one_answer_switches_back() -> None:
    answering = {"p:5060": True, "b:5060": True}
    changes: list[int] = []
    watch = RegistrarWatch(["p:5060", "b:5060"], "udp", changes.append, ping=lambda s, t, to: answering[s])
    assert watch.check_once() == 0
    answering["p:5060"] = False
    assert watch.check_once() == 0  # one miss is not enough
    assert watch.check_once() == 1
    assert changes == [1]
    answering["p:5060"] = True
    assert watch.check_once() == 0
    assert changes == [1, 0]


def test_all_down_keeps_the_current_choice() -> None:
    changes: list[int] = []
    watch = RegistrarWatch(["p", "b"], "udp", changes.append, ping=lambda s, t, to: False)
    for _ in range(3):
        assert watch.check_once() == 0
    assert changes == []
