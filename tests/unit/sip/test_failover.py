from softclock.sip.failover import NO_ANSWER, NO_NETWORK, REFUSED, RegistrarWatch, options_probe


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


def test_status_says_why_a_single_server_is_down_and_when_it_is_back() -> None:
    answer = {"p:5060": ""}
    status: list[tuple[int, bool, str]] = []
    watch = RegistrarWatch(
        ["p:5060"],
        "udp",
        lambda index: None,
        probe=lambda s, t, to: answer[s],
        on_status=lambda i, up, why: status.append((i, up, why)),
    )
    watch.check_once()
    answer["p:5060"] = REFUSED
    watch.check_once()
    assert status == []  # one miss is not enough
    watch.check_once()
    assert status == [(0, False, REFUSED)]
    answer["p:5060"] = NO_NETWORK  # the cable went too: say so
    watch.check_once()
    watch.check_once()
    assert status == [(0, False, REFUSED), (0, False, NO_NETWORK)]
    answer["p:5060"] = ""
    watch.check_once()
    assert status[-1] == (0, True, "")


def test_probe_names_a_refusing_port() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert options_probe(f"127.0.0.1:{port}", "udp", 0.5) == REFUSED


def test_tls_probe_is_a_tcp_connect() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert options_probe(f"127.0.0.1:{port}", "tls", 0.5) == ""
    assert options_probe(f"127.0.0.1:{port}", "tls", 0.5) == REFUSED


def test_a_first_miss_is_confirmed_at_once_not_a_whole_interval_later() -> None:
    from softclock.sip.failover import CONFIRM_S

    answer = {"p:5060": ""}
    watch = RegistrarWatch(["p:5060"], "udp", lambda index: None, interval_s=4.0, probe=lambda s, t, to: answer[s])
    watch.check_once()
    assert watch._wait_s() == 4.0  # quiet while it answers
    answer["p:5060"] = NO_ANSWER
    watch.check_once()
    assert watch._wait_s() == CONFIRM_S  # one miss: ask again at once
    watch.check_once()
    assert watch._wait_s() == 0.5  # down: watched for its return
    answer["p:5060"] = ""
    watch.check_once()
    assert watch._wait_s() == 4.0
